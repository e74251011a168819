#include "md/camera/camera_input.h"

#include "md/port.h"

namespace md {
namespace camera {

bool CameraInput::Fill(const TensorView& input, app::InputReport* report) {
  if (!started_) {
    started_ = true;
    begin_status_ = Begin(config_);
  }
  if (begin_status_ != CameraStatus::kOk) {
    report->error = LastError()[0] ? LastError() : CameraStatusName(begin_status_);
    return false;
  }
  Frame frame;
  const uint64_t start = port::Ticks();
  const CameraStatus captured = Capture(&frame);
  const uint64_t captured_at = port::Ticks();
  if (captured != CameraStatus::kOk) {
    report->error = LastError()[0] ? LastError() : CameraStatusName(captured);
    return false;
  }
  const Status prepared = PrepareInput(frame, crop_, input);
  report->capture_ticks = captured_at - start;
  report->prepare_ticks = port::Ticks() - captured_at;
  report->width = frame.width;
  report->height = frame.height;
  report->format = PixelFormatName(frame.format);
  Release();
  if (prepared != Status::kOk) {
    report->error = prepared == Status::kInvalidArgument
                        ? "camera frame shorter than its size, or wider than 16843 pixels"
                        : "the model's input 0 is not an 8-bit image [1, H, W, 1 or 3]";
    return false;
  }
  return true;
}

}  // namespace camera
}  // namespace md
