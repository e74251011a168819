#include "md/camera/frame_prep.h"

namespace md {
namespace camera {
namespace {

constexpr uint32_t kLuma[3] = {299, 587, 114};  // BT.601, per mille (images.LUMA_WEIGHTS)
constexpr uint32_t kLumaScale = 1000;
constexpr int kMaxWidth = 16843;  // in_w * 255 * 1000 must fit the 32-bit row sum

struct Rgb {
  uint32_t r, g, b;
};

// The pixel at `p` widened to 8-bit R, G, B (grey: the same value thrice).
template <PixelFormat F>
inline Rgb Decode(const uint8_t* p) {
  if (F == PixelFormat::kGray8) return {p[0], p[0], p[0]};
  if (F == PixelFormat::kRgb888) return {p[0], p[1], p[2]};
  const uint32_t word =
      F == PixelFormat::kRgb565Be ? (uint32_t{p[0]} << 8) | p[1] : (uint32_t{p[1]} << 8) | p[0];
  const uint32_t r5 = (word >> 11) & 0x1F, g6 = (word >> 5) & 0x3F, b5 = word & 0x1F;
  return {(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)};
}

template <PixelFormat F>
constexpr int kBytes = F == PixelFormat::kGray8    ? 1
                       : F == PixelFormat::kRgb888 ? 3
                                                   : 2;

// Input cells [first, last] covered by output cell `out_index`, and each one's weight: the
// overlap of [o * in, (o + 1) * in) with [i * out, (i + 1) * out), in units of 1/out.
struct Span {
  int first, last;
  uint32_t start, end, out;
  uint32_t Weight(int i) const {
    const uint32_t cell_start = static_cast<uint32_t>(i) * out;
    const uint32_t lo = start > cell_start ? start : cell_start;
    const uint32_t hi = end < cell_start + out ? end : cell_start + out;
    return hi - lo;
  }
};

Span SpanOf(int out_index, int size_in, int size_out) {
  Span s;
  s.out = static_cast<uint32_t>(size_out);
  s.start = static_cast<uint32_t>(out_index) * static_cast<uint32_t>(size_in);
  s.end = s.start + static_cast<uint32_t>(size_in);
  s.first = static_cast<int>(s.start / s.out);
  s.last = static_cast<int>((s.end - 1) / s.out);
  return s;
}

struct Resampling {
  const Frame& frame;
  CropBox box;
  int out_h, out_w, channels;
  bool luma;
  int offset;  // 128 for int8 inputs
  uint8_t* out;
};

// One instance per pixel format (the pixel decoding inlined into the inner loop) and per Sum,
// the integer type that holds 2 * (area sum) + denominator (see PrepareInput).
template <PixelFormat F, typename Sum>
void Resample(const Resampling& r, Sum denominator) {
  const size_t stride = static_cast<size_t>(r.frame.width) * kBytes<F>;
  const uint8_t* origin = r.frame.data + static_cast<size_t>(r.box.top) * stride +
                          static_cast<size_t>(r.box.left) * kBytes<F>;
  uint8_t* out = r.out;
  for (int y = 0; y < r.out_h; ++y) {
    const Span rows = SpanOf(y, r.box.rows, r.out_h);
    for (int x = 0; x < r.out_w; ++x) {
      const Span cols = SpanOf(x, r.box.cols, r.out_w);
      for (int c = 0; c < r.channels; ++c) {
        Sum sum = 0;
        for (int i = rows.first; i <= rows.last; ++i) {
          const uint8_t* row = origin + static_cast<size_t>(i) * stride;
          uint32_t row_sum = 0;  // at most cols * 255 * 1000
          for (int j = cols.first; j <= cols.last; ++j) {
            const Rgb p = Decode<F>(row + static_cast<size_t>(j) * kBytes<F>);
            const uint32_t value = r.luma   ? kLuma[0] * p.r + kLuma[1] * p.g + kLuma[2] * p.b
                                   : c == 0 ? p.r
                                   : c == 1 ? p.g
                                            : p.b;
            row_sum += cols.Weight(j) * value;
          }
          sum += static_cast<Sum>(rows.Weight(i)) * row_sum;
        }
        const int pixel = static_cast<int>((2 * sum + denominator) / (2 * denominator));
        *out++ = static_cast<uint8_t>(pixel - r.offset);  // int8: two's complement of pixel-128
      }
    }
  }
}

template <typename Sum>
void ResampleFormat(const Resampling& r, Sum denominator) {
  switch (r.frame.format) {
    case PixelFormat::kGray8:
      return Resample<PixelFormat::kGray8>(r, denominator);
    case PixelFormat::kRgb565Be:
      return Resample<PixelFormat::kRgb565Be>(r, denominator);
    case PixelFormat::kRgb565Le:
      return Resample<PixelFormat::kRgb565Le>(r, denominator);
    case PixelFormat::kRgb888:
      return Resample<PixelFormat::kRgb888>(r, denominator);
  }
}

}  // namespace

int BytesPerPixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::kGray8:
      return 1;
    case PixelFormat::kRgb565Be:
    case PixelFormat::kRgb565Le:
      return 2;
    case PixelFormat::kRgb888:
      return 3;
  }
  return 0;
}

const char* PixelFormatName(PixelFormat format) {
  switch (format) {
    case PixelFormat::kGray8:
      return "gray8";
    case PixelFormat::kRgb565Be:
      return "rgb565be";
    case PixelFormat::kRgb565Le:
      return "rgb565le";
    case PixelFormat::kRgb888:
      return "rgb888";
  }
  return "unknown";
}

CropBox CenteredCrop(int height_in, int width_in, int height, int width) {
  CropBox box;
  const int64_t wide = static_cast<int64_t>(width_in) * height;
  const int64_t tall = static_cast<int64_t>(height_in) * width;
  if (wide > tall) {  // wider than the model: cut the sides
    const int64_t cols = tall / height;
    box.cols = cols > 0 ? static_cast<int>(cols) : 1;
    box.rows = height_in;
    box.left = (width_in - box.cols) / 2;
  } else {
    const int64_t rows = wide / width;
    box.rows = rows > 0 ? static_cast<int>(rows) : 1;
    box.cols = width_in;
    box.top = (height_in - box.rows) / 2;
  }
  return box;
}

Status PrepareInput(const Frame& frame, bool crop, const TensorView& input) {
  if (input.type != DataType::kInt8 && input.type != DataType::kUInt8) {
    return Status::kUnsupportedType;
  }
  if (input.dims == nullptr || input.rank < 3 || input.rank > 4 ||
      (input.rank == 4 && input.dims[0] != 1)) {
    return Status::kShapeMismatch;
  }
  const int out_h = input.dims[input.rank - 3];
  const int out_w = input.dims[input.rank - 2];
  const int channels = input.dims[input.rank - 1];
  if (out_h < 1 || out_w < 1 || (channels != 1 && channels != 3)) return Status::kShapeMismatch;
  const size_t need = static_cast<size_t>(frame.width) * static_cast<size_t>(frame.height) *
                      static_cast<size_t>(BytesPerPixel(frame.format));
  if (frame.data == nullptr || frame.width < 1 || frame.height < 1 || frame.width > kMaxWidth ||
      frame.height > kMaxWidth || frame.bytes < need) {
    return Status::kInvalidArgument;
  }
  const CropBox box = crop ? CenteredCrop(frame.height, frame.width, out_h, out_w)
                           : CropBox{0, 0, frame.height, frame.width};
  const bool colour = frame.format != PixelFormat::kGray8;
  const bool luma = colour && channels == 1;
  const uint64_t denominator =
      static_cast<uint64_t>(box.rows) * static_cast<uint64_t>(box.cols) * (luma ? kLumaScale : 1u);
  const Resampling r{frame,
                     box,
                     out_h,
                     out_w,
                     channels,
                     luma,
                     input.type == DataType::kInt8 ? 128 : 0,
                     static_cast<uint8_t*>(input.data)};
  // The numerator 2 * sum + denominator is at most 511 * denominator: 32-bit arithmetic when
  // that fits (a grey crop up to 8.4 M pixels; colour to grey only up to 8405), else 64-bit.
  // Same result either way.
  if (denominator * 511u <= UINT32_MAX) {
    ResampleFormat<uint32_t>(r, static_cast<uint32_t>(denominator));
  } else {
    ResampleFormat<uint64_t>(r, denominator);
  }
  return Status::kOk;
}

}  // namespace camera
}  // namespace md
