// Camera driver for the OmniVision OV7675 of Arduino's Tiny Machine Learning Kit (Nano 33 BLE
// Sense + shield), through the OV767X class of the kit's library Harvard_TinyMLx
// (https://github.com/tinyMLx/arduino-library, src/OV767X_TinyMLx.h):
//   int Camera.begin(int resolution, int format, int fps, int camera_name);  // 1 = ok
//   void Camera.readFrame(void* buffer);
// with resolution VGA/CIF/QVGA/QCIF/QQVGA (640x480, 352x240, 320x240, 176x144, 160x120), format
// GRAYSCALE (the library keeps the Y byte of YUV422: one byte per pixel) or RGB565 (two bytes per
// pixel in the order the sensor sends them, taken here as high byte first), camera_name OV7675.
// The library reads the frame by polling the pixel clock with interrupts off (it blocks for a
// whole frame: 200 ms at 5 fps, the fastest rate that works on the Nano 33 BLE).
// NOT VERIFIED ON HARDWARE: compiled against tests/port_stubs/arduino/Arduino_OV767X_TinyMLx.h
// (the declarations above) only.
#include "md/camera/camera.h"

#include <Arduino.h>
#include <Arduino_OV767X_TinyMLx.h>

#include "md/camera/driver_state.h"

#ifndef MD_CAMERA_FPS
#define MD_CAMERA_FPS 5
#endif

namespace md {
namespace camera {
namespace {

// The library writes the whole frame here; sized by the board's [camera] at compile time.
alignas(4) uint8_t g_frame[kFrameBytes];
DriverState g_state;
const char* g_error = "";

int Resolution(int width, int height) {
  if (width == 640 && height == 480) return VGA;
  if (width == 352 && height == 240) return CIF;
  if (width == 320 && height == 240) return QVGA;
  if (width == 176 && height == 144) return QCIF;
  if (width == 160 && height == 120) return QQVGA;
  return -1;
}

}  // namespace

CameraStatus Begin(const CameraConfig& config) {
  if (!g_state.StartOnce(config)) return g_state.begin_status;
  const int resolution = Resolution(config.width, config.height);
  const int format = config.format == PixelFormat::kGray8      ? GRAYSCALE
                     : config.format == PixelFormat::kRgb565Be ? RGB565
                                                               : -1;
  if (resolution < 0 || format < 0) {
    g_error = "OV767X gives 640x480, 352x240, 320x240, 176x144 or 160x120, grayscale or rgb565";
    g_state.begin_status = CameraStatus::kUnsupported;
  } else if (FrameBytes(config.width, config.height, config.format) > kFrameBytes) {
    g_error = "frame larger than the compile-time MD_CAMERA_WIDTH/HEIGHT/FORMAT";
    g_state.begin_status = CameraStatus::kUnsupported;
  } else if (Camera.begin(resolution, format, MD_CAMERA_FPS, OV7675) != 1) {
    g_error = "Camera.begin failed: is the OV7675 seated on the shield?";
    g_state.begin_status = CameraStatus::kDeviceError;
  }
  return g_state.begin_status;
}

CameraStatus Capture(Frame* frame) {
  if (!g_state.Ready()) return CameraStatus::kNotStarted;
  Camera.readFrame(g_frame);
  g_state.Fill(frame, g_frame);
  return CameraStatus::kOk;
}

void Release() {}

const char* DriverName() { return "ov767x"; }

const char* LastError() { return g_error; }

}  // namespace camera
}  // namespace md
