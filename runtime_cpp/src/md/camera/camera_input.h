// Camera frames as the input of the protocol service (md/app/service.h): each inference the
// host gave no input for captures a frame, preprocesses it into input 0 exactly as the host
// would (frame_prep.h) and releases it; the service reports the capture and preprocessing
// times in a `frame` record (docs/protocol.md).
//
//   static md::camera::CameraInput camera(md::camera::CameraConfig(), /*crop=*/true);
//   config.input_source = &camera;
#ifndef MD_CAMERA_CAMERA_INPUT_H_
#define MD_CAMERA_CAMERA_INPUT_H_

#include "md/app/service.h"
#include "md/camera/camera.h"

namespace md {
namespace camera {

class CameraInput : public app::InputSource {
 public:
  CameraInput(const CameraConfig& config, bool crop) : config_(config), crop_(crop) {}

  // Starts the camera on first use, so a failure reaches the host as an `err` record.
  bool Fill(const TensorView& input, app::InputReport* report) override;
  const char* Name() const override { return DriverName(); }

 private:
  CameraConfig config_;
  bool crop_;
  bool started_ = false;
  CameraStatus begin_status_ = CameraStatus::kOk;
};

}  // namespace camera
}  // namespace md

#endif  // MD_CAMERA_CAMERA_INPUT_H_
