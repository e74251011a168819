// What every camera driver (md/camera/<driver>/camera.cc) keeps the same way: Begin() runs once
// and its status stands (a second call returns it), Capture() refuses until Begin() succeeded,
// and a captured frame is described with the configured size.
#ifndef MD_CAMERA_DRIVER_STATE_H_
#define MD_CAMERA_DRIVER_STATE_H_

#include <cstddef>
#include <cstdint>

#include "md/camera/camera.h"

namespace md {
namespace camera {

struct DriverState {
  bool started = false;
  CameraStatus begin_status = CameraStatus::kOk;
  CameraConfig config;

  // Begin()'s first call keeps `config` and returns true: the driver then starts its sensor and
  // sets begin_status. Later calls return false: the driver returns begin_status as it stands.
  bool StartOnce(const CameraConfig& requested) {
    if (started) return false;
    started = true;
    config = requested;
    return true;
  }

  // Capture() may go on: Begin() was called and succeeded.
  bool Ready() const { return started && begin_status == CameraStatus::kOk; }

  // Bytes of one frame of the configured size and format.
  size_t ConfiguredBytes() const { return FrameBytes(config.width, config.height, config.format); }

  // Describes `bytes` at `data` as a frame of the configured size, in `format`.
  void Fill(Frame* frame, const uint8_t* data, size_t bytes, PixelFormat format) const {
    frame->data = data;
    frame->bytes = bytes;
    frame->width = config.width;
    frame->height = config.height;
    frame->format = format;
  }
  // ... of the configured size and format.
  void Fill(Frame* frame, const uint8_t* data) const {
    Fill(frame, data, ConfiguredBytes(), config.format);
  }
};

}  // namespace camera
}  // namespace md

#endif  // MD_CAMERA_DRIVER_STATE_H_
