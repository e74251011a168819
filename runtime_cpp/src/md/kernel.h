// The kernel interface. A kernel file keeps its functions private and
// exports one `const KernelRegistration& Register_<OP>()`.
//
// Call order, per op: prepare() once from Interpreter::AllocateTensors()
// (validate shapes/types, request scratch), then invoke() on every
// Interpreter::Invoke(). Kernels keep no per-op state in the arena unless
// they ask for it with AllocatePersistent() during prepare; quantization
// multipliers that are cheap to derive are recomputed in invoke so the arena
// stays minimal (see docs/architecture.md, "arena budget"), except inside a
// patch-based stage, where Band::constants keeps them across an op's bands.
#ifndef MD_KERNEL_H_
#define MD_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include "md/status.h"
#include "md/table_view.h"
#include "md/tensor.h"

namespace md {

class Interpreter;

// A band of output rows [row_begin, row_end) of a rank-4 (NHWC) output, for
// patch-based execution (docs/patch_execution.md). When a kernel is invoked
// with an active band, Input(0) and Output(0) point at virtual full-size
// tensors of which only the rows this band reads or writes are backed by
// memory; the kernel computes exactly the band's rows. Only kernels that
// support it (CONV_2D, DEPTHWISE_CONV_2D) are ever given an active band.
//
// Inside a stage, an op runs on many bands per Invoke, so per-channel data that
// depend only on the op (requantization multipliers, bias + input offset x
// filter sum) are computed on its first band and kept in `constants`, an area
// of BandConstantsBytes(output channels) bytes that the planner reserves in the
// head for the stage's lifetime (kernels/band_constants.h has the layout).
// The same reservation starts with kBandCallBytes for `call`, where the op's
// first band keeps its resolved call (geometry, operand addresses, quantization,
// band_constants.h BandCall) so that the other bands skip the per-call work of
// building tensor views and reading options; `input` and `output` then give
// them the data Input(0) and Output(0) would point at.
struct Band {
  int32_t row_begin = 0;
  int32_t row_end = -1;         // -1: no band, the whole output
  void* constants = nullptr;    // nullptr: compute per-channel data per call
  bool fill_constants = false;  // the op's first band of this Invoke: fill `constants`
  void* call = nullptr;         // kBandCallBytes, set with `constants`
  void* input = nullptr;        // Input(0)'s data, with `call` (nullptr: unknown)
  void* output = nullptr;       // Output(0)'s data, with `call` (nullptr: unknown)
  bool active() const { return row_end >= 0; }
};

// Bytes of Band::call (sizeof(BandCall), the same on every target: its
// addresses are 64-bit wide, so the planners need no pointer size).
constexpr uint32_t kBandCallBytes = 80;

// Bytes of one op's area in a patch-based stage: kBandCallBytes for the call,
// then the per-channel constants, a 4-byte header and 12 bytes per output
// channel rounded up to 16. microdeploy/patching.py (band_constants_bytes) uses
// the same formula.
constexpr uint32_t BandConstantsBytes(int32_t channels) {
  return kBandCallBytes + ((4u + 12u * static_cast<uint32_t>(channels) + 15u) & ~15u);
}

// Handed to a kernel for one op. Implemented by the interpreter.
class OpContext {
 public:
  OpContext(Interpreter* interp, int op_index) : interp_(interp), op_index_(op_index) {}

  int op_index() const { return op_index_; }
  int NumInputs() const;
  int NumOutputs() const;
  // Input i; HasInput(i) is false for an optional input given as -1.
  bool HasInput(int i) const;
  TensorView Input(int i) const;
  TensorView Output(int i) const;
  // Number of intermediate tensors (LSTM) and access to them.
  int NumIntermediates() const;
  TensorView Intermediate(int i) const;
  // The op's builtin options table (empty table view if none).
  TableView Options() const;

  // Prepare only: bytes that live as long as the interpreter (tail of the
  // arena). Returns nullptr and sets the interpreter error when it fails.
  void* AllocatePersistent(size_t bytes);
  // Prepare only: scratch memory valid during this op's invoke. The planner
  // places it in the head like an activation whose lifetime is this op.
  Status RequestScratch(size_t bytes, int* scratch_index);
  // Invoke only.
  void* Scratch(int scratch_index) const;
  // Prepare only: scratch memory valid during this op's invoke that never grows the arena: after
  // planning it gets the largest run of head bytes that no buffer live at this op uses (capped
  // at max_bytes), if that run holds at least min_bytes; otherwise none (the kernel then runs
  // without it). Not granted to ops run in bands by a patch-based stage. Shares the op's scratch
  // indices with RequestScratch (an op's first request of either kind gets 0).
  // A spare request changes no placement, no head size and no patch-based stage; it costs one
  // 8-byte scratch table entry in the tail. No grant either when the head is 0xffff x 16 bytes
  // or more (the table keeps a grant's offset / 16 in 16 bits). Returns kInvalidArgument when
  // min_bytes > max_bytes (a max_bytes above 4 GiB counts as 4 GiB - 1).
  // docs/architecture.md ("spare scratch") has the rule; microdeploy/planner.py mirrors it.
  Status RequestSpareScratch(size_t min_bytes, size_t max_bytes, int* scratch_index);
  // Invoke only: the granted bytes (16-byte aligned) and their count in *bytes, or nullptr and 0.
  // For an index RequestSpareScratch() gave (Scratch() gives nullptr for it, and this nullptr for
  // a RequestScratch() index).
  void* SpareScratch(int scratch_index, size_t* bytes) const;
  // Invoke only: the band of output rows to compute (inactive: all rows).
  Band band() const;
  // Persistent data of this op set during prepare (nullptr if none).
  void* user_data() const;
  void set_user_data(void* data);

  // Records "op <index> <NAME>: <message>" as the interpreter's error and
  // returns `status`. printf-style format.
  Status Fail(Status status, const char* fmt, ...) const
#if defined(__GNUC__)
      __attribute__((format(printf, 3, 4)))
#endif
      ;

 private:
  friend class Interpreter;  // Invoke() moves one context from op to op
  Interpreter* interp_;
  int op_index_;
};

using KernelFn = Status (*)(OpContext& ctx);

struct KernelRegistration {
  int32_t op;        // BuiltinOp code
  const char* name;  // "CONV_2D"
  KernelFn prepare;  // may be nullptr
  KernelFn invoke;
  // Honours OpContext::band() (patch-based execution may then stream it).
  bool runs_on_bands = false;
};

}  // namespace md

#endif  // MD_KERNEL_H_
