// DEPTHWISE_CONV_2D: TFLite's reference depthwise convolution, bit-exact
// with TFLM.
//   int8 x int8 (per-channel along dimension 3, or per-tensor) + int32 bias
//   int16 x int8 + int64 bias or no bias ("16x8"; TFLM misreads an int32
//     bias here, so that combination is rejected)
//   float32
// Output channel oc = in_channel * depth_multiplier + m. Layouts: input and
// output NHWC, filter [1, H, W, out_depth].
//
// Per-channel multipliers are recomputed in invoke once per output channel,
// for chunks of kChannelChunk channels kept on the stack. Inside a
// patch-based stage they are computed on the op's first band and read from
// Band::constants on the others (band_constants.h).
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/band.h"
#include "md/kernels/band_constants.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/depthwise_conv_2d_opt.h"
#include "md/kernels/float_exact_common.h"
#include "md/kernels/path_variants.h"
#include "md/kernels/register.h"
#include "md/kernels/type_variants.h"
#include "md/quant.h"

namespace md {
namespace {

// DepthwiseConv2DOptions slots (schema.fbs).
constexpr int kPadding = 0;
constexpr int kStrideW = 1;
constexpr int kStrideH = 2;
constexpr int kDepthMultiplier = 3;
constexpr int kActivation = 4;
constexpr int kDilationW = 5;
constexpr int kDilationH = 6;

// TFLite quantizes depthwise filters along the output-channel dimension 3.
constexpr int kQuantizedDimension = 3;

struct DepthwiseShape {
  int32_t batches, in_h, in_w, in_depth, depth_multiplier, out_depth;
  WindowGeometry g;
};

void ReadShape(const OpContext& ctx, const TensorView& input, const TensorView& filter,
               DepthwiseShape* s, int32_t* padding) {
  const TableView opts = ctx.Options();
  *padding = opts.GetInt8(kPadding, 0);
  s->g.stride_w = opts.GetInt32(kStrideW, 0);
  s->g.stride_h = opts.GetInt32(kStrideH, 0);
  s->g.dilation_w = opts.GetInt32(kDilationW, 1);
  s->g.dilation_h = opts.GetInt32(kDilationH, 1);
  s->g.filter_h = filter.Dim(1);
  s->g.filter_w = filter.Dim(2);
  s->batches = input.Dim(0);
  s->in_h = input.Dim(1);
  s->in_w = input.Dim(2);
  s->in_depth = input.Dim(3);
  s->out_depth = filter.Dim(3);
  // Derived from the shapes; prepare checks it equals the option.
  s->depth_multiplier = s->in_depth > 0 ? s->out_depth / s->in_depth : 0;
  ResolveWindow(static_cast<Padding>(*padding), s->in_h, s->in_w, &s->g);
}

MD_PREPARE_CODE Status Prepare(OpContext& ctx) {
  ConvOperandTypes types;
  const Status operands = CheckConv2dOperands(ctx, &types);
  if (operands != Status::kOk) return operands;
  const Status compiled_in = CheckTypeVariantCompiledIn(ctx, ctx.Input(0).type);
  if (compiled_in != Status::kOk) return compiled_in;
  const bool is_float = types.is_float;
  const bool is_int8 = types.is_int8;
  const TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  const TensorView output = ctx.Output(0);
  DepthwiseShape s;
  int32_t padding = 0;
  ReadShape(ctx, input, filter, &s, &padding);
  if (filter.Dim(0) != 1 || s.in_depth < 1 || s.depth_multiplier < 1 ||
      s.out_depth != s.in_depth * s.depth_multiplier) {
    return ctx.Fail(Status::kShapeMismatch,
                    "filter [%d,..,%d] does not give a whole depth multiplier for input depth %d",
                    static_cast<int>(filter.Dim(0)), static_cast<int>(s.out_depth),
                    static_cast<int>(s.in_depth));
  }
  const int32_t option_multiplier = ctx.Options().GetInt32(kDepthMultiplier, 0);
  if (option_multiplier != s.depth_multiplier) {
    return ctx.Fail(Status::kShapeMismatch,
                    "depth_multiplier option %d disagrees with filter (%d channels for %d)",
                    static_cast<int>(option_multiplier), static_cast<int>(s.out_depth),
                    static_cast<int>(s.in_depth));
  }
  const Status batch_depth = CheckOutputBatchDepth(ctx, output, s.batches, s.out_depth);
  if (batch_depth != Status::kOk) return batch_depth;
  const Status window = CheckWindow(ctx, padding, s.g, output);
  if (window != Status::kOk) return window;

  if (ctx.NumInputs() == 3 && ctx.HasInput(2)) {
    const TensorView bias = ctx.Input(2);
    const DataType want = is_float  ? DataType::kFloat32
                          : is_int8 ? DataType::kInt32
                                    : DataType::kInt64;
    if (bias.type != want) {
      return ctx.Fail(Status::kUnsupportedType, "bias type %s, expected %s",
                      DataTypeName(bias.type), DataTypeName(want));
    }
    if (bias.FlatSize() != s.out_depth) {
      return ctx.Fail(Status::kShapeMismatch, "bias has %d values for %d output channels",
                      static_cast<int>(bias.FlatSize()), static_cast<int>(s.out_depth));
    }
  }
  if (!is_float) {
    const Status q = CheckConvQuantization(ctx, input, filter, output, kQuantizedDimension);
    if (q != Status::kOk) return q;
  }
  const bool has_bias = ctx.NumInputs() == 3 && ctx.HasInput(2);
  const TensorView bias = has_bias ? ctx.Input(2) : TensorView();
  if (!kKernelsHaveDepthwiseFallback && is_int8 &&
      !opt::DepthwiseDspPathServes(s.g, s.depth_multiplier, s.out_depth, input, filter, output,
                                   has_bias ? &bias : nullptr)) {
    return ctx.Fail(Status::kUnsupportedType, kFallbackCompiledOut, "DSP 3x3",
                    "MD_KERNELS_NO_DEPTHWISE_FALLBACK");
  }
  return Status::kOk;
}

// Output channels [c0, c1). AccT is int32 for int8 and int64 for 16x8, as in
// TFLite's DepthwiseConvPerChannel overloads.
template <typename InT, typename AccT, typename BiasT, typename OutT>
void DepthwiseChunk(const DepthwiseShape& s, const InT* input, const int8_t* filter,
                    const BiasT* bias, OutT* output, int32_t input_offset, int32_t output_offset,
                    int32_t act_min, int32_t act_max, int32_t c0, int32_t c1,
                    const int32_t* multiplier, const int* shift) {
  const WindowGeometry& g = s.g;
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t in_y_origin = out_y * g.stride_h - g.pad_h;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t in_x_origin = out_x * g.stride_w - g.pad_w;
        OutT* out = output + ((b * g.out_h + out_y) * g.out_w + out_x) * s.out_depth;
        for (int32_t oc = c0; oc < c1; ++oc) {
          const int32_t ic = oc / s.depth_multiplier;
          AccT acc = 0;
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = in_y_origin + g.dilation_h * fy;
            if (in_y < 0 || in_y >= s.in_h) continue;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = in_x_origin + g.dilation_w * fx;
              if (in_x < 0 || in_x >= s.in_w) continue;
              const int32_t in_val = input[((b * s.in_h + in_y) * s.in_w + in_x) * s.in_depth + ic];
              const int32_t f_val = filter[(fy * g.filter_w + fx) * s.out_depth + oc];
              acc = WrappingAdd<AccT>(acc, f_val * (in_val + input_offset));
            }
          }
          if (bias != nullptr) acc = WrappingAdd<AccT>(acc, bias[oc]);
          int32_t v = MultiplyByQuantizedMultiplier(acc, multiplier[oc - c0], shift[oc - c0]);
          v = WrappingAdd(v, output_offset);
          v = v < act_min ? act_min : v;
          v = v > act_max ? act_max : v;
          out[oc] = static_cast<OutT>(v);
        }
      }
    }
  }
}

template <typename InT, typename AccT, typename BiasT, typename OutT>
void DepthwiseQuantized(const DepthwiseShape& s, const TensorView& input, const TensorView& filter,
                        const BiasT* bias, const TensorView& output, int32_t input_offset,
                        int32_t output_offset, int32_t act_min, int32_t act_max,
                        const BandConstantsView* cached = nullptr) {
  int32_t multiplier[kChannelChunk];
  int shift[kChannelChunk];
  for (int32_t c0 = 0; c0 < s.out_depth; c0 += kChannelChunk) {
    const int32_t c1 = c0 + kChannelChunk < s.out_depth ? c0 + kChannelChunk : s.out_depth;
    for (int32_t oc = c0; oc < c1; ++oc) {
      if (cached != nullptr) {  // patch-based stage: computed on the op's first band
        multiplier[oc - c0] = cached->channel[oc].multiplier;
        shift[oc - c0] = cached->channel[oc].shift;
        continue;
      }
      ChannelOutputMultiplier(input.scale, ChannelScaleOf(filter, oc), output.scale,
                              &multiplier[oc - c0], &shift[oc - c0]);
    }
    DepthwiseChunk<InT, AccT, BiasT, OutT>(s, input.Data<const InT>(), filter.Data<const int8_t>(),
                                           bias, output.Data<OutT>(), input_offset, output_offset,
                                           act_min, act_max, c0, c1, multiplier, shift);
  }
}

// Float results must not depend on FMA contraction (float_exact_common.h).
MD_NO_FP_CONTRACT void DepthwiseFloat(const DepthwiseShape& s, const float* input,
                                      const float* filter, const float* bias, float* output,
                                      float act_min, float act_max) {
  const WindowGeometry& g = s.g;
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t in_y_origin = out_y * g.stride_h - g.pad_h;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t in_x_origin = out_x * g.stride_w - g.pad_w;
        float* out = output + ((b * g.out_h + out_y) * g.out_w + out_x) * s.out_depth;
        for (int32_t oc = 0; oc < s.out_depth; ++oc) {
          const int32_t ic = oc / s.depth_multiplier;
          float total = 0.0f;
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = in_y_origin + g.dilation_h * fy;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = in_x_origin + g.dilation_w * fx;
              if (in_y < 0 || in_y >= s.in_h || in_x < 0 || in_x >= s.in_w) continue;
              const float in_val = input[((b * s.in_h + in_y) * s.in_w + in_x) * s.in_depth + ic];
              const float f_val = filter[(fy * g.filter_w + fx) * s.out_depth + oc];
              total += in_val * f_val;
            }
          }
          float v = total + (bias != nullptr ? bias[oc] : 0.0f);
          v = v < act_min ? act_min : v;
          v = v > act_max ? act_max : v;
          out[oc] = v;
        }
      }
    }
  }
}

#if MD_KERNELS_OPTIMIZED
// The optimized int8 path's arguments for one call (the shape after ApplyBand); a first band
// takes them from the model, a kept band call (BandCall) from what that band stored.
opt::DepthwiseInt8Args Int8Args(const DepthwiseShape& s, const TensorView& input,
                                const TensorView& filter, const int32_t* bias,
                                const TensorView& output, int32_t input_offset,
                                int32_t output_offset, int32_t act_min, int32_t act_max) {
  return {input.Data<const int8_t>(),
          filter.Data<const int8_t>(),
          bias,
          output.Data<int8_t>(),
          s.batches,
          s.in_h,
          s.in_w,
          s.in_depth,
          s.depth_multiplier,
          s.out_depth,
          s.g,
          input_offset,
          output_offset,
          act_min,
          act_max};
}

// A later band of an op in a patch-based stage whose first band kept its call (BandCall): the
// int8 path below with the views, options and geometry of the kept call.
Status InvokeKeptCall(OpContext& ctx, const Band& band, const BandCall& call) {
  TensorView input = BandCallView(band.input, call.input_scale, nullptr, 0);
  const TensorView filter = BandCallFilterView(call);
  TensorView output = BandCallView(band.output, call.output_scale, nullptr, 0);
  const WindowGeometry g = BandCallGeometry(call);
  DepthwiseShape s = {1, call.in_h, call.in_w, call.in_depth, call.depth_multiplier, call.out_depth,
                      g};
  ApplyBand(band, &s, &input, &output);
  const BandConstantsView constants = ReadBandConstants(band.constants);
  const opt::DepthwiseInt8Args args =
      Int8Args(s, input, filter, BandCallPointer<const int32_t>(call.bias), output,
               call.input_offset, call.output_offset, call.act_min, call.act_max);
  if (opt::DepthwiseInt8Optimized(args, input, filter, output, &constants)) return Status::kOk;
  // (The first band took the same path with the same call.)
  return ctx.Fail(Status::kKernelError, "kept band call refused");
}
#endif

Status Invoke(OpContext& ctx) {
  const Band band = ctx.band();
#if MD_KERNELS_OPTIMIZED
  BandCall kept;
  if (LoadBandCall(band, &kept)) return InvokeKeptCall(ctx, band, kept);
#endif
  ClearBandCall(band);  // the int8 path below keeps it
  TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  TensorView output = ctx.Output(0);
  const bool has_bias = ctx.NumInputs() == 3 && ctx.HasInput(2);
  const TensorView bias = has_bias ? ctx.Input(2) : TensorView();
  DepthwiseShape s;
  int32_t padding = 0;
  ReadShape(ctx, input, filter, &s, &padding);
  [[maybe_unused]] const DepthwiseShape full = s;  // what a kept call holds (BandCall)
  ApplyBand(band, &s, &input, &output);            // patch-based execution: one band of rows
  const auto act = static_cast<FusedActivation>(ctx.Options().GetInt8(kActivation, 0));

  // Compiled-out variants (type_variants.h) never get here: prepare rejected them.
  if (kKernelsHaveFloat32 && input.type == DataType::kFloat32) {
    float act_min, act_max;
    CalculateActivationRangeFloat(act, &act_min, &act_max);
    DepthwiseFloat(s, input.Data<const float>(), filter.Data<const float>(),
                   has_bias ? bias.Data<const float>() : nullptr, output.Data<float>(), act_min,
                   act_max);
    return Status::kOk;
  }
  int32_t act_min, act_max;
  OutputActivationRange(act, output, &act_min, &act_max);
  if (input.type == DataType::kInt8) {
    const int32_t* bias_data = has_bias ? bias.Data<const int32_t>() : nullptr;
    // Inside a patch-based stage the per-channel constants are computed once per op.
    BandConstantsView constants;
    const BandConstantsView* cached =
        BandConstantsFor(band, input, filter, output, bias_data, s.out_depth,
                         s.g.filter_h * s.g.filter_w, BandFilterLayout::kChannelsLast, &constants);
#if MD_KERNELS_OPTIMIZED
    const opt::DepthwiseInt8Args args =
        Int8Args(s, input, filter, bias_data, output, -input.zero_point, output.zero_point, act_min,
                 act_max);
    if (opt::DepthwiseInt8Optimized(args, input, filter, output, cached)) {
      if (cached != nullptr && band.fill_constants) {  // the op's later bands reuse the call
        StoreBandCall(band, input, filter, output, args.bias, full.batches, full.in_h, full.in_w,
                      full.in_depth, full.depth_multiplier, full.out_depth, full.g, act_min,
                      act_max);
      }
      return Status::kOk;
    }
#endif
    if constexpr (!kDepthwiseFallbackLinked) {  // prepare accepted only ops on the DSP path
      return ctx.Fail(Status::kUnsupportedType,
                      "int8 path compiled out (MD_KERNELS_NO_DEPTHWISE_FALLBACK)");
    }
    DepthwiseQuantized<int8_t, int32_t, int32_t, int8_t>(s, input, filter, bias_data, output,
                                                         -input.zero_point, output.zero_point,
                                                         act_min, act_max, cached);
  } else if (!kKernelsHaveInt16 || input.type != DataType::kInt16) {
    return Status::kUnsupportedType;
  } else {
    // TFLite's 16x8 kernel ignores the (symmetric, zero) int16 zero points.
    DepthwiseQuantized<int16_t, int64_t, int64_t, int16_t>(
        s, input, filter, has_bias ? bias.Data<const int64_t>() : nullptr, output, 0, 0, act_min,
        act_max);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_DEPTHWISE_CONV_2D() {
  static const KernelRegistration registration = {kOpDepthwiseConv2D, "DEPTHWISE_CONV_2D", Prepare,
                                                  Invoke, true};
  return registration;
}

}  // namespace md
