// The interpreter: runs subgraph 0 of a .tflite model read in place, with all
// mutable memory in one caller-provided arena and no heap.
//
// Call order: Init() (validate the model, resolve every op) ->
// AllocateTensors() (prepare every op, plan, lay out the arena) -> Invoke()
// any number of times. Each step returns a Status; error_message() then holds
// one line naming what failed ("op 3 (SVDF) is not supported by this build",
// "arena too small: need 55360 bytes, have 1000", "malformed model: ...").
//
// Arena layout (addresses grow to the right):
//
//   arena                                                        arena + size
//   |pad| head: planned activations + scratch |   free   | tail: persistent |
//       ^ 16-aligned start                    ^ head end  ^ grows downward  ^ 16-aligned end
//
//   head: every non-constant tensor and every scratch request at the offset
//         chosen by the planner (md/planner.h); buffers whose lifetimes do
//         not overlap share bytes. During AllocateTensors() the same bytes
//         hold the scratch request list and the planner's work arrays.
//   tail: one uint16 per tensor (its head offset / 16; a uint32 byte offset
//         per tensor as well when the head reaches 0xffff x 16 bytes), one
//         16-byte OpNode per op (its kernel's invoke, input and output index
//         vectors and options table, resolved once before prepare so Invoke() is a tight
//         loop and the OpContext accessors never read the operator table), one 8-byte
//         entry per scratch request of either kind ({op, offset} for RequestScratch(),
//         {op, offset / 16 + 1, bytes} for a RequestSpareScratch() grant, bytes 0 when
//         none), kernels' AllocatePersistent()
//         blocks, and one small node per op that set user data. Nothing else:
//         TensorViews are built on the stack per accessor call from the
//         flatbuffer's tensor table, and kernels recompute quantization
//         multipliers in invoke instead of storing them.
//
// Required bytes = start padding + head + tail (tail rounded to 16). While
// AllocateTensors() runs, the head region also holds the scratch request list
// (8 bytes per RequestScratch(), 16 per RequestSpareScratch()) and the planner's
// arrays (28 bytes per planned buffer and per spare request); when those are
// larger than the planned head (tiny models only) they count instead of the head.
//
// Scratch indices are per op and shared by both kinds of request: an op's first
// RequestScratch() or RequestSpareScratch() gets 0, the next 1, so a kernel that
// needs one buffer can call Scratch(0) in invoke.
//
// Spare scratch (kernel.h RequestSpareScratch, docs/architecture.md): once the
// plan is made, each spare request in request order gets the largest run of head
// bytes that no buffer live at its op covers (lowest offset on ties; earlier
// grants of the same op count as live), capped at its max, when the run holds its
// min. Ops of the patch-based stage get none.
//
// Variable tensors (SVDF/LSTM state) live in the head for the whole run and
// are reset by AllocateTensors() as TFLM does: int8 ones to their zero
// point, all others to zero.
#ifndef MD_INTERPRETER_H_
#define MD_INTERPRETER_H_

#include <cstddef>
#include <cstdint>

#include "md/kernel.h"
#include "md/model_view.h"
#include "md/op_resolver.h"
#include "md/planner.h"
#include "md/profiler.h"
#include "md/status.h"
#include "md/tensor.h"

namespace md {

// Arena figures of a model (see PlanArena and Interpreter::ArenaUsedBytes).
struct ArenaFigures {
  size_t total = 0;  // head + tail (+ start padding)
  size_t head = 0;
  size_t tail = 0;
};

// Patch-based execution policy (docs/patch_execution.md), applied by AllocateTensors():
//   kAuto: stream the best stage when it lowers the arena head by at least 10%, or when the
//          layer-by-layer plan does not fit the arena (and the stage's plan is smaller);
//   kOff:  always layer by layer;
//   kOn:   stream the best stage whenever the model has one, even if it saves nothing.
// Firmware picks the default at compile time: -DMD_TILING_OFF or -DMD_TILING_ON, else kAuto.
enum class Tiling : uint8_t { kAuto, kOff, kOn };

#if defined(MD_TILING_OFF)
constexpr Tiling kDefaultTiling = Tiling::kOff;
#elif defined(MD_TILING_ON)
constexpr Tiling kDefaultTiling = Tiling::kOn;
#else
constexpr Tiling kDefaultTiling = Tiling::kAuto;
#endif

// One planned buffer, for tools that show the plan (md_host_run --plan).
struct PlanRecord {
  int32_t id;      // planner buffer id
  int32_t tensor;  // tensor index, -1 for a scratch buffer
  int32_t op;      // requesting op for scratch, -1 for tensors
  uint32_t size;
  int32_t first;
  int32_t last;
  uint32_t offset;
  int32_t alias;  // id of the buffer whose bytes it shares in place, -1 if none
};

// One RequestSpareScratch() and its grant, for tools that show the plan (md_host_run --plan).
struct SpareRecord {
  int32_t op;
  uint32_t min_bytes;
  uint32_t max_bytes;
  uint32_t offset;  // head offset of the grant, 0xffffffff when none
  uint32_t bytes;   // granted bytes, 0 when none
};

class Interpreter {
 public:
  Interpreter(const uint8_t* model, size_t model_size, const OpResolver& resolver, uint8_t* arena,
              size_t arena_size, Profiler* profiler = nullptr);
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  Status Init();
  // Before AllocateTensors(): the patch-based execution policy (default kDefaultTiling).
  void SetTiling(Tiling tiling) { tiling_ = tiling; }
  Status AllocateTensors();
  Status Invoke();
  // Attaches (or, with nullptr, detaches) the per-op profiler for the following Invoke() calls.
  // Detached, Invoke() reads no clock and pays one pointer test per op.
  void set_profiler(Profiler* profiler) {
    profiler_ = profiler;
    UpdateFastInvoke();
  }
  // Puts variable tensors (SVDF/LSTM state) back to their start values, as
  // AllocateTensors() left them: call between independent input sequences.
  Status ResetVariableTensors();

  int NumInputs() const;
  int NumOutputs() const;
  // Views of subgraph inputs/outputs (data is nullptr before AllocateTensors
  // or for a bad index).
  TensorView Input(int i) const;
  TensorView Output(int i) const;
  // Any tensor of the subgraph by index.
  TensorView Tensor(int index) const;

  size_t ArenaUsedBytes() const { return used_bytes_; }
  size_t ArenaHeadBytes() const { return head_bytes_; }
  size_t ArenaTailBytes() const { return tail_bytes_; }
  // After AllocateTensors() failed with kArenaTooSmall: the bytes it needs
  // (exact unless required_is_lower_bound(), when the arena was too small
  // even to run the planner).
  size_t ArenaRequiredBytes() const { return required_bytes_; }
  bool required_is_lower_bound() const { return required_is_lower_bound_; }

  const char* error_message() const { return error_; }
  // Patch-based execution (docs/patch_execution.md): the ops [first, last]
  // streamed row by row, or -1 for both when the plan runs layer by layer.
  int PatchStageFirst() const { return stage_first_; }
  int PatchStageLast() const { return stage_last_; }
  const ModelView& model() const { return model_; }

  // Optional: AllocateTensors() copies the plan into `records` (up to
  // `capacity`) and sets *count to the number of planned buffers.
  void RecordPlan(PlanRecord* records, int capacity, int* count) {
    plan_records_ = records;
    plan_capacity_ = capacity;
    plan_count_ = count;
  }
  // Optional: AllocateTensors() copies the spare scratch requests and their grants into
  // `records` (up to `capacity`, in request order) and sets *count to their number.
  void RecordSpare(SpareRecord* records, int capacity, int* count) {
    spare_records_ = records;
    spare_capacity_ = capacity;
    spare_count_ = count;
  }

  // Computes a model's arena figures without invoking it: Init() and
  // AllocateTensors() (so kernels' prepare runs and their scratch and
  // persistent requests count) inside the caller's `work` memory, which must
  // be at least as large as the arena the model needs.
  static Status PlanArena(const uint8_t* model, size_t model_size, const OpResolver& resolver,
                          uint8_t* work, size_t work_size, ArenaFigures* figures, char* error,
                          size_t error_size);

 private:
  friend class OpContext;
  // kInvoke: AllocateTensors() succeeded, kernels may be invoked (Scratch() works).
  enum class Phase : uint8_t { kNone, kPrepare, kInvoke };
  // One op as Invoke() and the OpContext accessors see it (arena tail, filled by
  // AllocateTensors() before the ops' prepare). 16 bytes on every target: no pointers, so the
  // host's arena figures are the Cortex-M's.
  struct OpNode {
    uint32_t invoke;   // the kernel's invoke function as a KernelHandle (interpreter.cc)
    uint32_t inputs;   // model offset of the op's input index vector (its length word), 0: none
    uint32_t outputs;  // the same for its outputs
    uint32_t options;  // model offset of its builtin options table, 0 if none
  };
  // One scratch request. While preparing (request list in the head): {op, kRegular, size} for
  // RequestScratch(), {op, kSpareMin, min} then {op, kSpareMax, max} for RequestSpareScratch().
  // After planning (table in the tail, one per request): {op, 0, head offset} for a regular
  // request, {op, offset / 16 + 1, bytes} for a spare one ({op, kSpareNotGranted, 0}: not
  // granted; never kRegular, so that Scratch() refuses every spare index). The op is
  // 16 bits (Init() caps the op count) so that a spare grant fits the same 8 bytes.
  struct ScratchEntry {
    uint16_t op;
    uint16_t kind;
    uint32_t value;
  };
  static constexpr uint16_t kRegular = 0;
  static constexpr uint16_t kSpareMin = 1;
  static constexpr uint16_t kSpareMax = 2;
  static constexpr uint16_t kSpareNotGranted = 1;  // (in the table, with bytes 0)
  struct UserNode {
    void* data;
    UserNode* next;
    int32_t op;
  };
  static constexpr uint32_t kNoOffset = 0xffffffffu;
  static constexpr uint16_t kNoSlot = 0xffffu;  // tensor_slots_: not planned
  static constexpr int kMaxOps = 65535;         // op indices are packed into 16 bits while planning
  // Tensor indices: tensor_slots_ holds a planner buffer index per tensor while planning.
  static constexpr int kMaxTensors = 65533;
  static constexpr size_t kErrorSize = 256;
  static constexpr int kMaxStageOps = 16;  // ops in one patch-based stage

  // Streaming state of a patch-based stage while it runs (on the stack).
  struct StageRun {
    int32_t kh[kMaxStageOps], dh[kMaxStageOps], sh[kMaxStageOps], pad_h[kMaxStageOps];
    int32_t in_h[kMaxStageOps], out_h[kMaxStageOps];
    uint32_t in_row[kMaxStageOps], out_row[kMaxStageOps];  // bytes per row
    int32_t rows[kMaxStageOps];      // window rows of op j's output (j < last)
    int32_t produced[kMaxStageOps];  // rows of op j's output computed so far
    int32_t lo[kMaxStageOps];        // first row held in op j's window
    int32_t count[kMaxStageOps];     // rows held in op j's window
    uint8_t* window[kMaxStageOps];
    int32_t out_depth[kMaxStageOps];
    uint8_t* constants[kMaxStageOps];  // op j's Band::constants area
    uint8_t* call[kMaxStageOps];       // op j's Band::call area
    uint8_t* stage_input;              // the first op's input data (nullptr: not planned)
    uint8_t* stage_output;             // the last op's output data (nullptr: not planned)
    bool filled[kMaxStageOps];         // op j's constants computed in this Invoke
    uint64_t ticks[kMaxStageOps];      // per op, summed when profiling
  };

  Status SetError(Status status, const char* fmt, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 3, 4)))
#endif
      ;
  Status ArenaTooSmall(size_t need, bool lower_bound);
  void* AllocTail(size_t bytes);
  Status BuildNodes();
  Status PlanAndLayout();
  Status ChooseStage(PlanBuffer* buffers, int n, const uint16_t* buffer_of, void* work,
                     size_t work_bytes, uint32_t head_budget, uint32_t* head);
  // The data of tensor t in the head (nullptr if it is not planned); after AllocateTensors().
  // Inline, like View(): the OpContext accessors call them for every view a kernel takes.
  uint8_t* PlannedData(int t) const {
    if (wide_offsets_ != nullptr) {
      const uint32_t offset = wide_offsets_[t];
      return offset == kNoOffset ? nullptr : head_ + offset;
    }
    const uint16_t slot = tensor_slots_[t];
    return slot == kNoSlot ? nullptr : head_ + (static_cast<uint32_t>(slot) << 4);
  }
  // Tensor(index) for an index Init() validated.
  TensorView View(int index) const {
    return model_.View(index, allocated_ ? PlannedData(index) : nullptr);
  }
  // The op's input (or output) tensor indices, from its node: count, then the indices.
  const int32_t* NodeVector(uint32_t offset) const {
    return reinterpret_cast<const int32_t*>(model_data_ + offset);
  }
  // The registration of op `op` (from the resolver: errors, the profiler and prepare only).
  const KernelRegistration* RegistrationOf(int op) const;
  // Invoke() with a patch-based stage or a profiler attached; InvokeFailed() names the op.
  Status InvokeWithStageOrProfiler();
  Status InvokeFailed(int op, Status s);
  // Invoke() takes its tight loop when allocated with no patch-based stage and no profiler.
  void UpdateFastInvoke() { fast_invoke_ = allocated_ && stage_first_ < 0 && profiler_ == nullptr; }
  Status InvokeOp(int op, Band band, uint8_t* input, uint8_t* output);
  Status RunStage();
  Status EnsureStageRows(StageRun& run, int j, int32_t first, int32_t last);
  Status ComputeStageRows(StageRun& run, int j, int32_t begin, int32_t end);

  // OpContext support.
  void* AllocatePersistent(int op_index, size_t bytes);
  Status RequestScratch(int op_index, size_t bytes, int* scratch_index);
  void* Scratch(int op_index, int scratch_index) const;
  Status RequestSpareScratch(int op_index, size_t min_bytes, size_t max_bytes, int* scratch_index);
  void* SpareScratch(int op_index, int scratch_index, size_t* bytes) const;
  const ScratchEntry* FindScratchEntry(int op_index, int scratch_index) const;
  // What RequestScratch() and RequestSpareScratch() share: in prepare, `bytes` within
  // `max_bytes`, the request counted and its `entries` (1 or 2) appended to the list if the
  // arena holds it; *entry is the first one's index. `what` names the caller in errors.
  Status AddScratchRequest(int op_index, const char* what, size_t bytes, size_t max_bytes,
                           int entries, size_t* entry);
  // Entries of the scratch request list while preparing (a spare request takes two).
  size_t RequestListBytes() const {
    return (static_cast<size_t>(num_scratch_) + static_cast<size_t>(num_spare_)) *
           sizeof(ScratchEntry);
  }
  void GrantSpareScratch(const ScratchEntry* requests, PlanBuffer* buffers, int n, void* work,
                         size_t work_bytes, uint32_t head, ScratchEntry* table);
  using SpareGranter = void (*)(Interpreter* self, const ScratchEntry* requests,
                                PlanBuffer* buffers, int n, void* work, size_t work_bytes,
                                uint32_t head, ScratchEntry* table);
  static void CallGrantSpareScratch(Interpreter* self, const ScratchEntry* requests,
                                    PlanBuffer* buffers, int n, void* work, size_t work_bytes,
                                    uint32_t head, ScratchEntry* table);
  void* UserData(int op_index) const;
  void SetUserData(int op_index, void* data);

  ModelView model_;
  const uint8_t* model_data_;
  size_t model_size_;
  const OpResolver& resolver_;
  uint8_t* arena_;
  size_t arena_size_;
  Profiler* profiler_;

  uint8_t* head_ = nullptr;      // 16-aligned arena start
  uint8_t* tail_end_ = nullptr;  // 16-aligned arena end
  size_t tail_used_ = 0;         // bytes below tail_end_ (may exceed the arena)
  bool initialized_ = false;
  bool allocated_ = false;
  bool fast_invoke_ = false;  // UpdateFastInvoke()
  Phase phase_ = Phase::kNone;

  OpNode* nodes_ = nullptr;           // tail, one per op
  uint16_t* tensor_slots_ = nullptr;  // tail, one per tensor: head offset / 16 or kNoSlot
  uint32_t* wide_offsets_ = nullptr;  // tail, when the head >= 0xffff x 16: byte offsets
  ScratchEntry* scratch_ = nullptr;   // tail after planning, head while preparing
  int num_scratch_ = 0;               // requests of either kind
  int num_spare_ = 0;                 // RequestSpareScratch() requests among them
  // Set by RequestSpareScratch(), called by PlanAndLayout(): firmware whose kernels never ask
  // for spare scratch links none of the code that grants it (about 600 bytes on the M4).
  SpareGranter grant_spare_ = nullptr;
  int op_scratch_count_ = 0;  // requests of the op being prepared
  // Where the last Scratch()/UserData() lookup ended: ops run in order, so the next op's
  // entries are found from here (amortized O(1) per lookup, no per-op work in Invoke()).
  mutable int scratch_cursor_ = 0;
  UserNode* user_first_ = nullptr;
  UserNode* user_last_ = nullptr;
  mutable UserNode* user_cursor_ = nullptr;

  size_t head_bytes_ = 0;
  size_t tail_bytes_ = 0;
  size_t used_bytes_ = 0;
  size_t required_bytes_ = 0;
  bool required_is_lower_bound_ = false;

  Tiling tiling_ = kDefaultTiling;
  int stage_first_ = -1;  // patch-based stage, -1 when none
  int stage_last_ = -1;
  // The op being invoked on a band, and its input 0 / output 0 data then.
  int band_op_ = -1;
  Band band_;
  uint8_t* band_input_ = nullptr;
  uint8_t* band_output_ = nullptr;

  PlanRecord* plan_records_ = nullptr;
  int plan_capacity_ = 0;
  int* plan_count_ = nullptr;
  SpareRecord* spare_records_ = nullptr;
  int spare_capacity_ = 0;
  int* spare_count_ = nullptr;

  char error_[kErrorSize] = {};
};

}  // namespace md

#endif  // MD_INTERPRETER_H_
