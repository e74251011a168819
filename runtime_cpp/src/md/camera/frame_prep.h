// Camera frame -> a model's image input, on the device, byte for byte what the host computes
// (microdeploy/images.py `frame_tensor`; docs/camera.md):
//   1. the centred crop with the model's aspect ratio (whole pixels, rounded down);
//   2. channels: colour -> grey by BT.601 luma (299 R + 587 G + 114 B) / 1000, grey -> colour by
//      replication; RGB565 fields widened by repeating their top bits (r5 -> r5 << 3 | r5 >> 2);
//   3. area-averaging resize to H x W, whole-number weights over one denominator, one rounding
//      (half up) at the end — integer arithmetic only, so no float rounding can differ;
//   4. uint8 input = pixel, int8 input = pixel - 128 (TFLM's camera convention).
// No buffers: each output pixel is computed from the frame directly.
#ifndef MD_CAMERA_FRAME_PREP_H_
#define MD_CAMERA_FRAME_PREP_H_

#include <cstddef>
#include <cstdint>

#include "md/status.h"
#include "md/tensor.h"

namespace md {
namespace camera {

enum class PixelFormat : uint8_t {
  kGray8 = 0,     // one byte per pixel
  kRgb565Be = 1,  // two bytes, high byte first (the order sensors send on the bus)
  kRgb565Le = 2,  // two bytes, low byte first
  kRgb888 = 3,    // three bytes R, G, B
};

int BytesPerPixel(PixelFormat format);
const char* PixelFormatName(PixelFormat format);

// One captured frame: rows top-down, no padding between rows.
struct Frame {
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kGray8;
};

struct CropBox {
  int top = 0;
  int left = 0;
  int rows = 0;
  int cols = 0;
};

// The centred region of a width_in x height_in frame with the aspect ratio of width x height.
CropBox CenteredCrop(int height_in, int width_in, int height, int width);

// Writes the model's image input `input` (int8 or uint8, [1, H, W, C] or [H, W, C], C = 1 or
// 3) from `frame`; `crop` = false stretches the whole frame instead (as `run` does for photos).
// kInvalidArgument: the frame is empty, shorter than its size says or wider than 16843 pixels
// (the limit of the 32-bit row sums); kUnsupportedType / kShapeMismatch: the input is not an
// 8-bit image.
Status PrepareInput(const Frame& frame, bool crop, const TensorView& input);

}  // namespace camera
}  // namespace md

#endif  // MD_CAMERA_FRAME_PREP_H_
