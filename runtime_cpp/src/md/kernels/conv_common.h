// Helpers shared by the windowed kernels (CONV_2D, DEPTHWISE_CONV_2D,
// AVERAGE_POOL_2D, MAX_POOL_2D) and FULLY_CONNECTED: TFLite's output-size and
// padding rules (tensorflow/lite/kernels/padding.h), per-channel scale access
// and the per-channel requantization multiplier, all with TFLite's exact
// arithmetic. Header-only, no state.
#ifndef MD_KERNELS_CONV_COMMON_H_
#define MD_KERNELS_CONV_COMMON_H_

#include <algorithm>
#include <cstdint>

#include "md/kernel.h"
#include "md/quant.h"
#include "md/tensor.h"
#include "md/types.h"

// Code that runs once per op at AllocateTensors (prepare, its checks): see MD_INIT_CODE.
#define MD_PREPARE_CODE MD_INIT_CODE

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

// Window arithmetic is done in 64 bits: a hostile model's filter size x dilation
// overflows int32 (signed overflow is UB); CheckWindow then rejects the result.
inline int32_t SaturateToInt32(int64_t v) {
  return static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(v, INT32_MIN), INT32_MAX));
}

// n / stride (truncating, as C++ does) in 32 bits when n fits them and stride > 0: the same
// quotient, without the library call a 64-bit division is on Cortex-M (about 100 instructions;
// kernels resolve their window on every invoke, every band row inside a patch-based stage).
inline int64_t DivideByStride(int64_t n, int32_t stride) {
  if (stride > 0 && n >= INT32_MIN && n <= INT32_MAX) return static_cast<int32_t>(n) / stride;
  return n / stride;
}

// tflite::ComputeOutSize.
inline int32_t ComputeOutSize(Padding padding, int32_t image_size, int32_t filter_size,
                              int32_t stride, int32_t dilation) {
  const int64_t effective_filter_size = (int64_t{filter_size} - 1) * dilation + 1;
  if (stride == 0) return 0;
  if (padding == Padding::kSame) {
    return SaturateToInt32(DivideByStride(int64_t{image_size} + stride - 1, stride));
  }
  return SaturateToInt32(
      DivideByStride(int64_t{image_size} + stride - effective_filter_size, stride));
}

// tflite::ComputePaddingWithOffset (the offset is not used by the reference
// kernels, only the leading padding).
inline int32_t ComputePadding(int32_t stride, int32_t dilation, int32_t in_size,
                              int32_t filter_size, int32_t out_size) {
  const int64_t effective_filter_size = (int64_t{filter_size} - 1) * dilation + 1;
  const int64_t total = (int64_t{out_size} - 1) * stride + effective_filter_size - in_size;
  return total > 0 ? SaturateToInt32(total / 2) : 0;
}

// One dimension of ResolveWindow: the output size and leading padding. Not inlined: its two
// 64-bit-safe computations are about half a KB of Cortex-M code, which both dimensions of every
// windowed kernel (conv, depthwise, pooling) would otherwise carry; two calls per op call.
__attribute__((noinline)) inline void ResolveDimension(Padding padding, int32_t in_size,
                                                       int32_t filter_size, int32_t stride,
                                                       int32_t dilation, int32_t* out_size,
                                                       int32_t* pad) {
  *out_size = ComputeOutSize(padding, in_size, filter_size, stride, dilation);
  *pad = ComputePadding(stride, dilation, in_size, filter_size, *out_size);
}

// Fills out_h/out_w/pad_h/pad_w from the other fields (ComputePaddingHeightWidth).
inline void ResolveWindow(Padding padding, int32_t in_h, int32_t in_w, WindowGeometry* g) {
  ResolveDimension(padding, in_w, g->filter_w, g->stride_w, g->dilation_w, &g->out_w, &g->pad_w);
  ResolveDimension(padding, in_h, g->filter_h, g->stride_h, g->dilation_h, &g->out_h, &g->pad_h);
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

// A shared out-of-line helper stays one (COMDAT) copy across objects only if GCC does not clone
// it (an .isra/.constprop clone is local to each object); clang has no such attribute.
#if defined(__GNUC__) && !defined(__clang__)
#define MD_SHARED_OUT_OF_LINE __attribute__((noinline, noclone))
#else
#define MD_SHARED_OUT_OF_LINE __attribute__((noinline))
#endif

// Prepare check of the windowed kernels: the NHWC output's batch and depth. One copy, out of
// line, for CONV_2D, DEPTHWISE_CONV_2D and the pools (flash: init-only code).
MD_PREPARE_CODE MD_SHARED_OUT_OF_LINE inline Status CheckOutputBatchDepth(const OpContext& ctx,
                                                                          const TensorView& output,
                                                                          int32_t batches,
                                                                          int32_t depth) {
  if (output.Dim(0) != batches || output.Dim(3) != depth) {
    return ctx.Fail(Status::kShapeMismatch, "output batch/depth %d/%d, expected %d/%d",
                    static_cast<int>(output.Dim(0)), static_cast<int>(output.Dim(3)),
                    static_cast<int>(batches), static_cast<int>(depth));
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

// Operand types a conv-like kernel (CONV_2D, DEPTHWISE_CONV_2D,
// FULLY_CONNECTED) accepts: float32, int8 x int8 or int16 x int8.
struct ConvOperandTypes {
  bool is_float = false;
  bool is_int8 = false;
  bool is_int16 = false;
};

inline ConvOperandTypes ClassifyConvOperands(const TensorView& input, const TensorView& filter) {
  ConvOperandTypes t;
  t.is_float = input.type == DataType::kFloat32 && filter.type == DataType::kFloat32;
  t.is_int8 = input.type == DataType::kInt8 && filter.type == DataType::kInt8;
  t.is_int16 = input.type == DataType::kInt16 && filter.type == DataType::kInt8;
  return t;
}

// Prepare checks shared by CONV_2D and DEPTHWISE_CONV_2D: 2 or 3 inputs and
// one output, input and filter present, all three 4-D, supported types.
// Fills *types on success.
inline Status CheckConv2dOperands(const OpContext& ctx, ConvOperandTypes* types) {
  if (ctx.NumInputs() < 2 || ctx.NumInputs() > 3 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kInvalidArgument, "expects 2 or 3 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  if (!ctx.HasInput(0) || !ctx.HasInput(1)) {
    return ctx.Fail(Status::kInvalidArgument, "input and filter are required");
  }
  const TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  const TensorView output = ctx.Output(0);
  if (input.rank != 4 || filter.rank != 4 || output.rank != 4) {
    return ctx.Fail(
        Status::kShapeMismatch, "input, filter and output must be 4-D (got ranks %d, %d, %d)",
        static_cast<int>(input.rank), static_cast<int>(filter.rank), static_cast<int>(output.rank));
  }
  *types = ClassifyConvOperands(input, filter);
  if (!(types->is_float || types->is_int8 || types->is_int16) || output.type != input.type) {
    return ctx.Fail(Status::kUnsupportedType,
                    "unsupported types input=%s filter=%s output=%s (supported: float32, "
                    "int8 x int8, int16 x int8)",
                    DataTypeName(input.type), DataTypeName(filter.type), DataTypeName(output.type));
  }
  return Status::kOk;
}

// Bias check of CONV_2D and FULLY_CONNECTED: float32 bias for float, int32
// for int8, int32 or int64 for int16 x int8; one value per output channel.
// `channel_noun` names the channels in the message ("filters", "outputs").
inline Status CheckConvBias(const OpContext& ctx, const TensorView& bias, const TensorView& input,
                            const ConvOperandTypes& types, int32_t out_depth,
                            const char* channel_noun) {
  const bool bias_ok = types.is_float ? bias.type == DataType::kFloat32
                       : types.is_int8
                           ? bias.type == DataType::kInt32
                           : (bias.type == DataType::kInt32 || bias.type == DataType::kInt64);
  if (!bias_ok) {
    return ctx.Fail(Status::kUnsupportedType, "bias type %s does not fit %s input",
                    DataTypeName(bias.type), DataTypeName(input.type));
  }
  if (bias.FlatSize() != out_depth) {
    return ctx.Fail(Status::kShapeMismatch, "bias has %d values for %d %s",
                    static_cast<int>(bias.FlatSize()), static_cast<int>(out_depth), channel_noun);
  }
  return Status::kOk;
}

// Quantization checks of the conv-like kernels: filter per-tensor or
// per-channel along `channel_dim`, input and output scales positive.
inline Status CheckConvQuantization(const OpContext& ctx, const TensorView& input,
                                    const TensorView& filter, const TensorView& output,
                                    int channel_dim) {
  const Status q = CheckFilterQuantization(ctx, filter, channel_dim);
  if (q != Status::kOk) return q;
  if (input.scale <= 0.0f || output.scale <= 0.0f) {
    return ctx.Fail(Status::kUnsupportedType, "quantized input/output need a scale > 0");
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
