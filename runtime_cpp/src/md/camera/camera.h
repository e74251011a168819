// The camera port: the functions a camera driver provides. One driver per project is vendored
// from md/camera/<driver>/ (the board definition's [camera] driver):
//   native_frames  host: frames from files (MD_CAMERA_FRAMES), for tests and demos;
//   ov767x         Arduino Nano 33 BLE Sense + OV7675 (Tiny Machine Learning Kit);
//   esp32_camera   ESP32 / ESP32-S3 boards through Espressif's esp32-camera component.
// The frame size and pixel format are fixed at compile time (-DMD_CAMERA_WIDTH,
// -DMD_CAMERA_HEIGHT, -DMD_CAMERA_FORMAT from the board definition), so drivers that own their
// frame buffer size it statically; none allocates after Begin().
#ifndef MD_CAMERA_CAMERA_H_
#define MD_CAMERA_CAMERA_H_

#include <cstddef>
#include <cstdint>

#include "md/camera/frame_prep.h"

#ifndef MD_CAMERA_WIDTH
#define MD_CAMERA_WIDTH 176
#endif
#ifndef MD_CAMERA_HEIGHT
#define MD_CAMERA_HEIGHT 144
#endif
#ifndef MD_CAMERA_FORMAT
#define MD_CAMERA_FORMAT kGray8  // a md::camera::PixelFormat enumerator
#endif

namespace md {
namespace camera {

enum class CameraStatus : uint8_t {
  kOk = 0,
  kNotStarted,   // Capture() before a successful Begin()
  kUnsupported,  // the driver or sensor cannot give this size/format
  kNoFrame,      // no frame came (timeout, no frame source)
  kDeviceError,  // the sensor or its bus failed
};

const char* CameraStatusName(CameraStatus status);

struct CameraConfig {
  int width = MD_CAMERA_WIDTH;
  int height = MD_CAMERA_HEIGHT;
  PixelFormat format = PixelFormat::MD_CAMERA_FORMAT;
};

constexpr size_t FrameBytes(int width, int height, PixelFormat format) {
  return static_cast<size_t>(width) * static_cast<size_t>(height) *
         (format == PixelFormat::kGray8    ? 1u
          : format == PixelFormat::kRgb888 ? 3u
                                           : 2u);
}
// Bytes of a frame of the compile-time configuration (a static frame buffer's size).
constexpr size_t kFrameBytes =
    FrameBytes(MD_CAMERA_WIDTH, MD_CAMERA_HEIGHT, PixelFormat::MD_CAMERA_FORMAT);

// ---- implemented by the driver ----------------------------------------------------------------
// Starts the sensor. Call once; a second call returns the first one's status.
CameraStatus Begin(const CameraConfig& config);
// Takes one frame. `frame` stays valid until Release() (a driver may hand out its DMA buffer).
CameraStatus Capture(Frame* frame);
// Gives the last captured frame back to the driver.
void Release();
// "ov767x", "esp32_camera", "native_frames".
const char* DriverName();
// One line about the last failure ("" when none).
const char* LastError();

}  // namespace camera
}  // namespace md

#endif  // MD_CAMERA_CAMERA_H_
