// The driver-independent part of the camera port (camera.h).
#include "md/camera/camera.h"

namespace md {
namespace camera {

const char* CameraStatusName(CameraStatus status) {
  switch (status) {
    case CameraStatus::kOk:
      return "Ok";
    case CameraStatus::kNotStarted:
      return "NotStarted";
    case CameraStatus::kUnsupported:
      return "Unsupported";
    case CameraStatus::kNoFrame:
      return "NoFrame";
    case CameraStatus::kDeviceError:
      return "DeviceError";
  }
  return "Unknown";
}

}  // namespace camera
}  // namespace md
