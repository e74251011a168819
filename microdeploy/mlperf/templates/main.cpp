// Your application, created once by `microdeploy init --app mlperf-tiny` (re-running init never
// rewrites it; use --force to start over). The device under test of the MLPerf Tiny benchmark
// (performance mode, 115200 baud): it loads the model compiled into model_data.cpp, registers the
// model's ops (md_model_ops.cpp) and answers the mlcommons/tiny harness's `%`-terminated commands
// (name, profile, timestamp, db load/db HEX, infer N W, results, help) over the serial line
// (md/app_mlperf/dut.h, docs/mlperf.md). `microdeploy mlperf PROJECT --input FILE` drives it
// without the official harness; any serial terminal works too (type `profile%`).
#include <cstdint>

#include "md/app_mlperf/dut.h"
#include "md/port.h"
#include "md_app.h"
#include "mlperf_config.h"

namespace {

// The harness's input bytes (`db load N` / `db HEX`), converted into the input tensor by infer.
alignas(4) uint8_t g_db_buffer[MD_MLPERF_DB_BYTES];

}  // namespace

int main() {
  md::port::Init();
  // No per-op profiler. A failed op registration shows up in the set-up error line.
  md::Interpreter& interpreter = md_app::ModelInterpreter(nullptr);
  md::mlperf::DutConfig config;
  config.benchmark = MD_MLPERF_BENCHMARK;
  config.model_version = MD_MLPERF_MODEL_VERSION;
  config.db_buffer = g_db_buffer;
  config.db_capacity = sizeof(g_db_buffer);
  md::port::Exit(md::mlperf::Serve(interpreter, config));
}
