// Host build of the device's camera preprocessing (md/camera/frame_prep.cc), for the tests that
// compare it byte for byte with microdeploy/images.py (tests/test_camera_prep.py).
//
// Reads one job per line on stdin:
//   FRAME_FILE FORMAT WIDTH HEIGHT OUT_H OUT_W CHANNELS TYPE CROP OUT_FILE
// FORMAT: gray8 | rgb565be | rgb565le | rgb888 (the frame file holds the raw pixel bytes);
// TYPE: int8 | uint8 (anything else: float32, which is refused); CROP: 1 (centred crop to the
// output's aspect) or 0 (stretch). Writes the input tensor's bytes to OUT_FILE; prints "ok" or
// "error <status>" per job.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "md/camera/frame_prep.h"
#include "md/status.h"
#include "md/tensor.h"

namespace {

bool ParseFormat(const char* name, md::camera::PixelFormat* format) {
  using md::camera::PixelFormat;
  for (PixelFormat f : {PixelFormat::kGray8, PixelFormat::kRgb565Be, PixelFormat::kRgb565Le,
                        PixelFormat::kRgb888}) {
    if (std::strcmp(name, md::camera::PixelFormatName(f)) == 0) {
      *format = f;
      return true;
    }
  }
  return false;
}

bool ReadFile(const char* path, std::vector<uint8_t>* bytes) {
  FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return false;
  uint8_t chunk[4096];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0) {
    bytes->insert(bytes->end(), chunk, chunk + n);
  }
  std::fclose(file);
  return true;
}

}  // namespace

int main() {
  char frame_path[1024], format_name[32], type_name[16], out_path[1024];
  int width = 0, height = 0, out_h = 0, out_w = 0, channels = 0, crop = 0;
  int failures = 0;
  while (std::scanf("%1023s %31s %d %d %d %d %d %15s %d %1023s", frame_path, format_name, &width,
                    &height, &out_h, &out_w, &channels, type_name, &crop, out_path) == 10) {
    md::camera::Frame frame;
    std::vector<uint8_t> pixels;
    if (!ParseFormat(format_name, &frame.format) || !ReadFile(frame_path, &pixels)) {
      std::printf("error bad-job\n");
      ++failures;
      continue;
    }
    frame.data = pixels.data();
    frame.bytes = pixels.size();
    frame.width = width;
    frame.height = height;
    const int32_t dims[4] = {1, out_h, out_w, channels};
    std::vector<uint8_t> tensor(static_cast<size_t>(out_h) * out_w * channels);
    md::TensorView input;
    input.data = tensor.data();
    input.type = std::strcmp(type_name, "int8") == 0    ? md::DataType::kInt8
                 : std::strcmp(type_name, "uint8") == 0 ? md::DataType::kUInt8
                                                        : md::DataType::kFloat32;
    input.rank = 4;
    input.dims = dims;
    const md::Status status = md::camera::PrepareInput(frame, crop != 0, input);
    if (status != md::Status::kOk) {
      std::printf("error %s\n", md::StatusName(status));
      continue;
    }
    FILE* out = std::fopen(out_path, "wb");
    if (out == nullptr || std::fwrite(tensor.data(), 1, tensor.size(), out) != tensor.size()) {
      std::printf("error write\n");
      ++failures;
    } else {
      std::printf("ok\n");
    }
    if (out != nullptr) std::fclose(out);
  }
  return failures == 0 ? 0 : 1;
}
