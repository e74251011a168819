// Runs one camera driver against its simulated SDK (camera_sim.h). Usage:
//   camera_sim EXPECTED_BEGIN_STATUS [fail_begin] [sensor_width=N]
// with the frame size and format compiled in (MD_CAMERA_WIDTH/HEIGHT/FORMAT, as a project gets
// them from its board definition). Prints `PASS <case>` / `FAIL <case>: ...`; exit 1 on a FAIL.
#include <cstdlib>
#include <cstring>
#include <string>

#include "camera_sim.h"
#include "check.h"
#include "md/camera/camera.h"

// What camera_sim.h declares, for every simulated SDK (set from the arguments below).
namespace camsim {
bool fail_begin = false;
int sensor_width = 0;
int frames_taken = 0;
int frames_back = 0;
}  // namespace camsim

using sim_check::Check;

int main(int argc, char** argv) {
  using md::camera::CameraStatus;
  if (argc < 2) return 2;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "fail_begin") == 0) camsim::fail_begin = true;
    if (std::strncmp(argv[i], "sensor_width=", 13) == 0)
      camsim::sensor_width = std::atoi(argv[i] + 13);
  }
  const md::camera::CameraConfig config;
  const CameraStatus begun = md::camera::Begin(config);
  Check(std::strcmp(md::camera::CameraStatusName(begun), argv[1]) == 0, "begin_status",
        std::string(md::camera::CameraStatusName(begun)) + " " + md::camera::LastError());
  Check(md::camera::Begin(config) == begun, "begin_again_same_status");
  if (begun != CameraStatus::kOk) {
    Check(md::camera::LastError()[0] != '\0', "begin_error_named");
    md::camera::Frame frame;
    Check(md::camera::Capture(&frame) == CameraStatus::kNotStarted, "capture_needs_begin");
    return sim_check::ExitStatus();
  }
  const std::string request = camsim::CheckRequest(
      config.width, config.height, config.format == md::camera::PixelFormat::kGray8 ? 0 : 1);
  Check(request.empty(), "sdk_request", request);
  for (int n = 0; n < 3; ++n) {
    md::camera::Frame frame;
    const CameraStatus captured = md::camera::Capture(&frame);
    if (camsim::sensor_width != 0) {
      Check(captured == CameraStatus::kUnsupported, "wrong_size_frame_refused",
            md::camera::CameraStatusName(captured));
      Check(camsim::frames_back == camsim::frames_taken, "wrong_size_frame_given_back");
      return sim_check::ExitStatus();
    }
    Check(captured == CameraStatus::kOk, "capture", md::camera::LastError());
    const size_t bytes = md::camera::FrameBytes(config.width, config.height, config.format);
    Check(frame.width == config.width && frame.height == config.height &&
              frame.format == config.format && frame.bytes >= bytes,
          "frame_shape");
    bool same = frame.data != nullptr;
    for (size_t i = 0; same && i < bytes; ++i) same = frame.data[i] == camsim::PatternByte(i, n);
    Check(same, "frame_bytes_are_the_sensors");
    int8_t tensor[96 * 96];
    const int32_t dims[4] = {1, 96, 96, 1};
    md::TensorView input;
    input.data = tensor;
    input.type = md::DataType::kInt8;
    input.rank = 4;
    input.dims = dims;
    Check(md::camera::PrepareInput(frame, true, input) == md::Status::kOk, "prepare_input");
    md::camera::Release();
  }
  Check(camsim::frames_taken == 3, "three_frames_taken", std::to_string(camsim::frames_taken));
  return sim_check::ExitStatus();
}
