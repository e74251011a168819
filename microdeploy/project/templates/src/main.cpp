// Your application, created once by `microdeploy init` (re-running init never rewrites it; use
// --force to start over). It loads the model compiled into model_data.cpp, registers the model's
// ops (md_model_ops.cpp), and hands everything to the protocol service (md/app/service.h): the
// device announces itself with a boot record, runs inferences on the inputs the host sends
// (`microdeploy run`) or on the compiled-in example input (zeros without one) when asked to
// (`run`, or `auto ms=N` to repeat while idle), and reports results, timings, per-op profiles
// and errors as text records (docs/protocol.md). `microdeploy monitor` shows them; so does any
// serial terminal, where you can type `run`, `auto ms=1000` or `info`.
#include <cstddef>
#include <cstdint>

#include "md/app/service.h"
#include "md/interpreter.h"
#include "md/port.h"
#include "md/profiler.h"
#include "md_config.h"
#include "md_model_ops.h"
#include "model_data.h"

#ifndef MD_AUTO_RUN_MS
#define MD_AUTO_RUN_MS 0  // >0: also run every N ms while idle (`monitor` asks for it)
#endif
#ifndef MD_PROFILE_OPS
#define MD_PROFILE_OPS 128  // ops whose time the profiler keeps (ops past it are counted)
#endif

namespace {

alignas(16) uint8_t g_arena[MD_ARENA_BYTES];
#ifdef MD_INPUT_BYTES
// A copy of the inputs that survives the arena's reuse of the input tensors between inferences.
uint8_t g_input_staging[MD_INPUT_BYTES];
#endif
md::FixedProfiler<MD_PROFILE_OPS> g_profiler;

}  // namespace

int main() {
  md::port::Init();
  static md::MicroOpResolver<MD_MODEL_OP_COUNT> resolver;
  // A failed registration shows up as an unsupported op in the boot record's error.
  (void)AddModelOps(resolver);
  static md::Interpreter interpreter(g_model_data, g_model_data_size, resolver, g_arena,
                                     sizeof(g_arena), &g_profiler);
  md::app::AppConfig config;
  config.board = MD_BOARD_NAME;
  config.runtime_version = MD_RUNTIME_VERSION;
  config.model_hash = MD_MODEL_SHA16;
  config.arena_size = sizeof(g_arena);
#ifdef MD_INPUT_BYTES
  config.input_staging = g_input_staging;
  config.input_staging_size = sizeof(g_input_staging);
#endif
  config.example_input = g_example_input;
  config.example_input_size = g_example_input_size;
  config.auto_run_ms = MD_AUTO_RUN_MS;
  config.profiler = &g_profiler;
  md::port::Exit(md::app::Serve(interpreter, config));
}
