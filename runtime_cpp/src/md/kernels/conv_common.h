// Helpers shared by the windowed kernels (CONV_2D, DEPTHWISE_CONV_2D,
// AVERAGE_POOL_2D, MAX_POOL_2D) and FULLY_CONNECTED: TFLite's output-size and
// padding rules (tensorflow/lite/kernels/padding.h), per-channel scale access
// and the per-channel requantization multiplier, all with TFLite's exact
// arithmetic. Header-only, no state.
#ifndef MD_KERNELS_CONV_COMMON_H_
#define MD_KERNELS_CONV_COMMON_H_

#include <cstdint>

#include "md/kernel.h"
#include "md/quant.h"
#include "md/tensor.h"
#include "md/types.h"

namespace md {

// Window geometry of one spatial op, resolved in prepare and again in invoke
// (it is cheap and keeps the arena free of per-op state).
struct WindowGeometry {
  int32_t stride_h = 1;
  int32_t stride_w = 1;
  int32_t dilation_h = 1;
  int32_t dilation_w = 1;
  int32_t filter_h = 1;
  int32_t filter_w = 1;
  int32_t pad_h = 0;
  int32_t pad_w = 0;
  int32_t out_h = 0;
  int32_t out_w = 0;
};

// tflite::ComputeOutSize.
inline int32_t ComputeOutSize(Padding padding, int32_t image_size, int32_t filter_size,
                              int32_t stride, int32_t dilation) {
  const int32_t effective_filter_size = (filter_size - 1) * dilation + 1;
  if (stride == 0) return 0;
  if (padding == Padding::kSame) return (image_size + stride - 1) / stride;
  return (image_size + stride - effective_filter_size) / stride;
}

// tflite::ComputePaddingWithOffset (the offset is not used by the reference
// kernels, only the leading padding).
inline int32_t ComputePadding(int32_t stride, int32_t dilation, int32_t in_size,
                              int32_t filter_size, int32_t out_size) {
  const int32_t effective_filter_size = (filter_size - 1) * dilation + 1;
  const int32_t total = (out_size - 1) * stride + effective_filter_size - in_size;
  return total > 0 ? total / 2 : 0;
}

// Fills out_h/out_w/pad_h/pad_w from the other fields (ComputePaddingHeightWidth).
inline void ResolveWindow(Padding padding, int32_t in_h, int32_t in_w, WindowGeometry* g) {
  g->out_w = ComputeOutSize(padding, in_w, g->filter_w, g->stride_w, g->dilation_w);
  g->out_h = ComputeOutSize(padding, in_h, g->filter_h, g->stride_h, g->dilation_h);
  g->pad_h = ComputePadding(g->stride_h, g->dilation_h, in_h, g->filter_h, g->out_h);
  g->pad_w = ComputePadding(g->stride_w, g->dilation_w, in_w, g->filter_w, g->out_w);
}

// Checks the options and the output shape against the geometry TFLite
// derives from the input; names the first problem through ctx.Fail.
inline Status CheckWindow(const OpContext& ctx, int32_t padding, const WindowGeometry& g,
                          const TensorView& output) {
  if (padding != static_cast<int32_t>(Padding::kSame) &&
      padding != static_cast<int32_t>(Padding::kValid)) {
    return ctx.Fail(Status::kInvalidArgument, "padding %d is neither SAME nor VALID",
                    static_cast<int>(padding));
  }
  if (g.stride_h < 1 || g.stride_w < 1) {
    return ctx.Fail(Status::kInvalidArgument, "strides must be >= 1 (got h=%d w=%d)",
                    static_cast<int>(g.stride_h), static_cast<int>(g.stride_w));
  }
  if (g.dilation_h < 1 || g.dilation_w < 1) {
    return ctx.Fail(Status::kInvalidArgument, "dilations must be >= 1 (got h=%d w=%d)",
                    static_cast<int>(g.dilation_h), static_cast<int>(g.dilation_w));
  }
  if (g.filter_h < 1 || g.filter_w < 1) {
    return ctx.Fail(Status::kShapeMismatch, "filter size must be >= 1 (got %dx%d)",
                    static_cast<int>(g.filter_h), static_cast<int>(g.filter_w));
  }
  if (g.out_h < 1 || g.out_w < 1 || output.Dim(1) != g.out_h || output.Dim(2) != g.out_w) {
    return ctx.Fail(Status::kShapeMismatch, "output is %dx%d but padding/stride/filter give %dx%d",
                    static_cast<int>(output.Dim(1)), static_cast<int>(output.Dim(2)),
                    static_cast<int>(g.out_h), static_cast<int>(g.out_w));
  }
  return Status::kOk;
}

// Scale of channel c of a (possibly per-channel) quantized tensor. Per-tensor
// scales are broadcast to every channel, as TFLite does.
inline float ChannelScaleOf(const TensorView& t, int32_t c) {
  return (t.scales != nullptr && t.num_channels > 1) ? t.scales[c] : t.scale;
}

// The per-channel requantization multiplier of conv-like ops
// (PopulateConvolutionQuantizationParams): the product is formed in double.
inline void ChannelOutputMultiplier(float input_scale, float filter_scale, float output_scale,
                                    int32_t* multiplier, int* shift) {
  const double effective = static_cast<double>(input_scale) * static_cast<double>(filter_scale) /
                           static_cast<double>(output_scale);
  QuantizeMultiplier(effective, multiplier, shift);
}

// Checks that a filter's quantization is per-tensor or per-channel along
// `channel_dim` with one scale per channel.
inline Status CheckFilterQuantization(const OpContext& ctx, const TensorView& filter,
                                      int channel_dim) {
  if (filter.num_channels > 1) {
    if (filter.quantized_dimension != channel_dim) {
      return ctx.Fail(Status::kUnsupportedType,
                      "filter is quantized along dimension %d, expected %d",
                      static_cast<int>(filter.quantized_dimension), channel_dim);
    }
    if (filter.num_channels != filter.Dim(channel_dim)) {
      return ctx.Fail(Status::kShapeMismatch, "filter has %d scales for %d channels",
                      static_cast<int>(filter.num_channels),
                      static_cast<int>(filter.Dim(channel_dim)));
    }
  }
  return Status::kOk;
}

// Quantized clamp range of a fused activation for an int8/int16 output.
inline void OutputActivationRange(FusedActivation act, const TensorView& output, int32_t* act_min,
                                  int32_t* act_max) {
  const bool is_int16 = output.type == DataType::kInt16;
  CalculateActivationRangeQuantized(act, output.scale, output.zero_point, is_int16 ? -32768 : -128,
                                    is_int16 ? 32767 : 127, act_min, act_max);
}

// Number of channels processed per chunk by kernels that recompute their
// per-channel multipliers in invoke: the multipliers of one chunk live on the
// stack (8 bytes each), each computed once per invoke.
constexpr int32_t kChannelChunk = 32;

}  // namespace md

#endif  // MD_KERNELS_CONV_COMMON_H_
