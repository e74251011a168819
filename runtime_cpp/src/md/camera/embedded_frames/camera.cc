// Camera driver without a sensor: frames compiled into the firmware (src/md_camera_frames.cpp,
// written by `microdeploy init --input camera [--camera-frames DIR]`), served in order and then
// from the start. Any port: the emulated Cortex-M4 runs the whole camera path with it (capture
// = handing out a frame in flash, the device's own preprocessing, the model), and a real board
// can replay recorded frames. Nothing is copied: frames stay in flash.
#include "md/camera/camera.h"

#include "md/camera/driver_state.h"

// Defined by the project: `count` frames of the configured size and format, back to back.
extern const uint8_t g_md_camera_frames[];
extern const uint32_t g_md_camera_frame_count;

namespace md {
namespace camera {
namespace {

DriverState g_state;
uint32_t g_next = 0;
const char* g_error = "";

}  // namespace

CameraStatus Begin(const CameraConfig& config) {
  if (!g_state.StartOnce(config)) return g_state.begin_status;
  if (FrameBytes(config.width, config.height, config.format) != kFrameBytes) {
    g_error = "embedded frames are of the compile-time MD_CAMERA_WIDTH/HEIGHT/FORMAT only";
    g_state.begin_status = CameraStatus::kUnsupported;
  } else if (g_md_camera_frame_count == 0) {
    g_error = "no frames compiled in (init --camera-frames DIR)";
    g_state.begin_status = CameraStatus::kNoFrame;
  }
  return g_state.begin_status;
}

CameraStatus Capture(Frame* frame) {
  if (!g_state.Ready()) return CameraStatus::kNotStarted;
  // Begin() accepted only the compile-time size: a frame is kFrameBytes.
  g_state.Fill(frame, g_md_camera_frames + static_cast<size_t>(g_next) * kFrameBytes);
  g_next = (g_next + 1) % g_md_camera_frame_count;
  return CameraStatus::kOk;
}

void Release() {}

const char* DriverName() { return "embedded_frames"; }

const char* LastError() { return g_error; }

}  // namespace camera
}  // namespace md
