// Your camera application, created once by `microdeploy init --input camera` (re-running init
// never rewrites it; use --force to start over). Like the serial application it hands the model
// to the protocol service (md/app/service.h), and adds the board's camera as the input source:
// every inference the host sent no input for captures a frame, preprocesses it on the device
// exactly as the host would (md/camera/frame_prep.h: centred crop, area resize, grey/RGB,
// int8 = pixel - 128) and reports `frame` (capture and preprocessing times), `res` and `time`
// records (docs/protocol.md, docs/camera.md). `microdeploy monitor` asks for an inference every
// second and shows "person 0.87, 41 ms"; `microdeploy run -i img.png` still sends a picture.
#include <cstddef>
#include <cstdint>

#include "md/app/service.h"
#include "md/camera/camera_input.h"
#include "md/interpreter.h"
#include "md/port.h"
#include "md/profiler.h"
#include "md_config.h"
#include "md_model_ops.h"
#include "model_data.h"

#ifndef MD_AUTO_RUN_MS
#define MD_AUTO_RUN_MS 0  // >0: also capture and run every N ms while idle
#endif
#ifndef MD_PROFILE_OPS
#define MD_PROFILE_OPS 128  // ops whose time the profiler keeps (ops past it are counted)
#endif
#ifndef MD_CAMERA_CROP
#define MD_CAMERA_CROP 1  // 1: centred crop to the model's aspect; 0: stretch the whole frame
#endif

namespace {

alignas(16) uint8_t g_arena[MD_ARENA_BYTES];
#ifdef MD_INPUT_BYTES
// A copy of the inputs the host sends (`run -i`), which survives the arena's reuse.
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
  // Size and pixel format come from the board definition's [camera] (MD_CAMERA_* flags).
  static md::camera::CameraInput camera(md::camera::CameraConfig(), MD_CAMERA_CROP != 0);
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
  config.input_source = &camera;
  md::port::Exit(md::app::Serve(interpreter, config));
}
