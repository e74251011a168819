// libFuzzer harness: a .tflite file is untrusted input parsed on a device
// without an MMU, so any byte string must end in a Status, never in a read or
// write outside the model, the arena or the caller's buffers.
//
// Each input is one model: Init() (validation + op resolution), AllocateTensors()
// (every kernel's Prepare, planning) and one Invoke() with every kernel linked
// and registered, on a fixed-size arena like a device's. Inputs are filled with
// a fixed byte pattern (tests/test_fuzz.py writes the same bytes when it replays
// regression inputs through the host runner).
//
// Build (tests/test_fuzz.py does this):
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined
//     -fno-sanitize-recover=all -Iruntime_cpp/src runtime_cpp/fuzz/fuzz_model.cc
//     runtime_cpp/src/md/*.cc runtime_cpp/src/md/kernels/*.cc
//     runtime_cpp/src/md/ports/native/port.cc -o fuzz_model
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "md/all_ops.h"
#include "md/interpreter.h"
#include "md/op_resolver.h"
#include "md/types.h"

namespace {

// Larger than any reference model needs (vww_96_int8: about 100 KB) and small
// enough that a mutated shape cannot make one input run for minutes.
constexpr size_t kArenaBytes = 1u << 20;
// Larger inputs are refused (not added to the corpus): the largest seed is about 330 KB.
constexpr size_t kMaxModelBytes = 1u << 20;

alignas(16) uint8_t g_arena[kArenaBytes];

const md::MicroOpResolver<32>& Resolver() {
  static md::MicroOpResolver<32> resolver;
  static bool ready = false;
  if (!ready) {
    md::AddAllOps(resolver);
    ready = true;
  }
  return resolver;
}

// The byte every input tensor holds at position k (see the file comment).
inline uint8_t PatternByte(size_t k) { return static_cast<uint8_t>(k * 37u + 11u); }

void RunOnce(const uint8_t* model, size_t size) {
  md::Interpreter interp(model, size, Resolver(), g_arena, kArenaBytes);
  if (interp.Init() != md::Status::kOk) return;
  if (interp.AllocateTensors() != md::Status::kOk) return;
  for (int i = 0; i < interp.NumInputs(); ++i) {
    md::TensorView in = interp.Input(i);
    if (in.data == nullptr || in.is_constant) continue;
    const size_t bytes =
        static_cast<size_t>(in.FlatSize()) * static_cast<size_t>(md::DataTypeSize(in.type));
    uint8_t* p = static_cast<uint8_t*>(in.data);
    for (size_t k = 0; k < bytes; ++k) p[k] = PatternByte(k);
  }
  interp.Invoke();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxModelBytes) return -1;  // not added to the corpus
  // An exactly sized, 16-byte aligned heap copy (the runtime needs the
  // alignment; libFuzzer's own buffer has none), so that ASan reports any read
  // past the model's last byte.
  void* model = nullptr;
  if (posix_memalign(&model, 16, size == 0 ? 1 : size) != 0) return -1;
  if (size > 0) std::memcpy(model, data, size);
  RunOnce(static_cast<const uint8_t*>(model), size);
  std::free(model);
  return 0;
}
