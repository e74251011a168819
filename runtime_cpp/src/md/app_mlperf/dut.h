// The device side of the MLPerf Tiny benchmark ("device under test", performance mode), as the
// mlcommons/tiny harness drives it over a serial line (docs/mlperf.md): `%`-terminated commands
// (name, profile, timestamp, help, db load/db HEX/db print, infer N W, results) answered with
// `\r\n` lines, each reply ending with `m-ready`. The replies, their spelling and the error
// texts follow mlcommons/tiny's benchmark/api (internally_implemented.cpp) and the reference
// submissions' input conversion and result formats, on top of md::port and md::Interpreter.
//
//   md::port::Init();
//   md::mlperf::DutConfig config;  ... fill in ...
//   md::port::Exit(md::mlperf::Serve(interpreter, config));
#ifndef MD_APP_MLPERF_DUT_H_
#define MD_APP_MLPERF_DUT_H_

#include <cstddef>
#include <cstdint>

#include "md/interpreter.h"

namespace md {
namespace mlperf {

// How the bytes loaded with `db` become the model's input, and what `results` reports; one per
// MLPerf Tiny benchmark, as its reference submission does it.
enum class Benchmark : uint8_t {
  kVww,  // uint8 pixels, tensor = byte - 128 (int8); results: every output score
  kIc,   // the same conversion as VWW
  kKws,  // int8 features, copied as they are; results: every output score
  kAd,   // float32 features, quantized with the input's scale/zero point; results: the mean
         // squared error between the dequantized output and the float input
};

struct DutConfig {
  Benchmark benchmark = Benchmark::kVww;
  const char* model_version = "vww01";  // m-model-[...]: vww01, kws01, ic01, ad01
  const char* vendor = "microdeploy";   // m-name-dut-[...]
  // The `db` buffer (the reference's gp_buff); `db load N` accepts N up to db_capacity.
  uint8_t* db_buffer = nullptr;
  size_t db_capacity = 0;
};

// Announces the device (m-timestamp-mode-performance, m-lap-us-N, m-init-done, m-ready), then
// answers commands until the serial line closes (returns 0).
int Serve(Interpreter& interpreter, const DutConfig& config);

}  // namespace mlperf
}  // namespace md

#endif  // MD_APP_MLPERF_DUT_H_
