// Camera driver without a sensor: frames compiled into the firmware (src/md_camera_frames.cpp,
// written by `microdeploy init --input camera [--camera-frames DIR]`), served in order and then
// from the start. Any port: the emulated Cortex-M4 runs the whole camera path with it (capture
// = handing out a frame in flash, the device's own preprocessing, the model), and a real board
// can replay recorded frames. Nothing is copied: frames stay in flash.
#include "md/camera/camera.h"

// Defined by the project: `count` frames of the configured size and format, back to back.
extern const uint8_t g_md_camera_frames[];
extern const uint32_t g_md_camera_frame_count;

namespace md {
namespace camera {
namespace {

bool g_started = false;
CameraStatus g_begin_status = CameraStatus::kOk;
CameraConfig g_config;
uint32_t g_next = 0;
const char* g_error = "";

}  // namespace

CameraStatus Begin(const CameraConfig& config) {
  if (g_started) return g_begin_status;
  g_started = true;
  g_config = config;
  if (FrameBytes(config.width, config.height, config.format) != kFrameBytes) {
    g_error = "embedded frames are of the compile-time MD_CAMERA_WIDTH/HEIGHT/FORMAT only";
    g_begin_status = CameraStatus::kUnsupported;
  } else if (g_md_camera_frame_count == 0) {
    g_error = "no frames compiled in (init --camera-frames DIR)";
    g_begin_status = CameraStatus::kNoFrame;
  }
  return g_begin_status;
}

CameraStatus Capture(Frame* frame) {
  if (!g_started || g_begin_status != CameraStatus::kOk) return CameraStatus::kNotStarted;
  frame->data = g_md_camera_frames + static_cast<size_t>(g_next) * kFrameBytes;
  frame->bytes = kFrameBytes;
  frame->width = g_config.width;
  frame->height = g_config.height;
  frame->format = g_config.format;
  g_next = (g_next + 1) % g_md_camera_frame_count;
  return CameraStatus::kOk;
}

void Release() {}

const char* DriverName() { return "embedded_frames"; }

const char* LastError() { return g_error; }

}  // namespace camera
}  // namespace md
