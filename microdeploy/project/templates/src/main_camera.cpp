// Your camera application, created once by `microdeploy init --input camera` (re-running init
// never rewrites it; use --force to start over). Like the serial application it hands the model
// to the protocol service (md/app/service.h), and adds the board's camera as the input source:
// every inference the host sent no input for captures a frame, preprocesses it on the device
// exactly as the host would (md/camera/frame_prep.h: centred crop, area resize, grey/RGB,
// int8 = pixel - 128) and reports `frame` (capture and preprocessing times), `res` and `time`
// records (docs/protocol.md, docs/camera.md). `microdeploy monitor` asks for an inference every
// second and shows "person 0.87, 41 ms"; `microdeploy run -i img.png` still sends a picture.
#include "md/app/service.h"
#include "md/camera/camera_input.h"
#include "md/port.h"
#include "md_app.h"

#ifndef MD_CAMERA_CROP
#define MD_CAMERA_CROP 1  // 1: centred crop to the model's aspect; 0: stretch the whole frame
#endif

int main() {
  md::port::Init();
  md::Interpreter& interpreter = md_app::ModelInterpreter(&md_app::Profiler());
  // Size and pixel format come from the board definition's [camera] (MD_CAMERA_* flags).
  static md::camera::CameraInput camera(md::camera::CameraConfig(), MD_CAMERA_CROP != 0);
  md::app::AppConfig config = md_app::ServiceConfig();
  config.input_source = &camera;
  md::port::Exit(md::app::Serve(interpreter, config));
}
