// CONV_2D: TFLite's reference convolution, bit-exact with TFLM.
//   int8  x int8 (per-channel or per-tensor) + int32 bias -> int8
//   int16 x int8 + int64 / int32 / no bias                -> int16  ("16x8")
//   float32                                                -> float32
// Grouped convolution (input depth a multiple of the filter depth) is
// supported like TFLite. Layouts: input/output NHWC, filter OHWI.
//
// Per-channel multipliers are recomputed in invoke, once per output channel,
// for chunks of kChannelChunk channels kept on the stack; nothing is stored
// in the arena. Inside a patch-based stage they are computed on the op's
// first band and read from Band::constants on the others (band_constants.h).
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/band.h"
#include "md/kernels/band_constants.h"
#include "md/kernels/conv_2d_opt.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/float_exact_common.h"
#include "md/kernels/path_variants.h"
#include "md/kernels/register.h"
#include "md/kernels/type_variants.h"
#include "md/quant.h"

namespace md {
namespace {

// Conv2DOptions slots (schema.fbs).
constexpr int kPadding = 0;
constexpr int kStrideW = 1;
constexpr int kStrideH = 2;
constexpr int kActivation = 3;
constexpr int kDilationW = 4;
constexpr int kDilationH = 5;

struct ConvShape {
  int32_t batches, in_h, in_w, in_depth;
  int32_t filter_depth, groups, filters_per_group, out_depth;
  WindowGeometry g;
};

void ReadShape(const OpContext& ctx, const TensorView& input, const TensorView& filter,
               ConvShape* s, int32_t* padding) {
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
  s->filter_depth = filter.Dim(3);
  s->out_depth = filter.Dim(0);
  s->groups = s->filter_depth > 0 ? s->in_depth / s->filter_depth : 0;
  s->filters_per_group = s->groups > 0 ? s->out_depth / s->groups : 0;
  ResolveWindow(static_cast<Padding>(*padding), s->in_h, s->in_w, &s->g);
}

// Bytes of spare scratch (kernel.h RequestSpareScratch) the channel-major path of deep 1x1
// convolutions (pointwise_layer_dsp.h) widens the op's pixels into (all of them at most, a
// segment of kLayerMinSegmentBlocks blocks at least: *min_bytes), or 0 where it never runs:
// int8, groups of 1, 1x1 stride 1 unpadded, a depth that is a multiple of 4 in [kLayerMinDepth,
// kDspPathMaxDepth], at least kLayerMinPixels pixels. Prepare asks for it on every target and
// kernel flavour, so that the host runner plans (and reports tail bytes) as the device does; only
// the DSP build uses it.
MD_PREPARE_CODE size_t LayerSpareBytes(const ConvShape& s, DataType type, size_t* min_bytes) {
  const WindowGeometry& g = s.g;
  const int32_t pixels = s.batches * g.out_h * g.out_w;
  const bool pointwise = g.filter_h == 1 && g.filter_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                         g.pad_h == 0 && g.pad_w == 0 && g.out_h == s.in_h && g.out_w == s.in_w;
  if (type != DataType::kInt8 || s.groups != 1 || !pointwise || s.in_depth % 4 != 0 ||
      s.in_depth < opt::kLayerMinDepth || s.in_depth > opt::kDspPathMaxDepth ||
      pixels < opt::kLayerMinPixels) {
    return 0;
  }
  *min_bytes = opt::PointwiseLayerMinSpareBytes(pixels, s.in_depth);
  return opt::PointwiseLayerSpareBytes(pixels, s.in_depth);
}
#if MD_KERNELS_ARM_DSP
// Its scratch index: CONV_2D asks for no other scratch (kernel.h: the first request gets 0).
// (Inside the #if: only the DSP build reads it, and clang flags an unused constant.)
constexpr int kLayerSpareIndex = 0;

// The deep 1x1 path's spare scratch into *spare: none when prepare asked for none, none was
// granted, or inside a stage. Not inlined: GCC copied it into two branches of Invoke.
__attribute__((noinline)) void LayerSpare(const OpContext& ctx, const Band& band,
                                          opt::PointwiseSpare* spare) {
  if (!band.active()) {
    spare->words = static_cast<uint32_t*>(ctx.SpareScratch(kLayerSpareIndex, &spare->bytes));
  }
}
#endif

FusedActivation ReadActivation(const OpContext& ctx) {
  return static_cast<FusedActivation>(ctx.Options().GetInt8(kActivation, 0));
}

MD_PREPARE_CODE Status Prepare(OpContext& ctx) {
  ConvOperandTypes types;
  const Status operands = CheckConv2dOperands(ctx, &types);
  if (operands != Status::kOk) return operands;
  const Status compiled_in = CheckTypeVariantCompiledIn(ctx, ctx.Input(0).type);
  if (compiled_in != Status::kOk) return compiled_in;
  const bool is_float = types.is_float;
  const TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  const TensorView output = ctx.Output(0);
  ConvShape s;
  int32_t padding = 0;
  ReadShape(ctx, input, filter, &s, &padding);
  if (s.filter_depth < 1 || s.in_depth % s.filter_depth != 0 || s.groups < 1 ||
      s.out_depth % s.groups != 0) {
    return ctx.Fail(Status::kShapeMismatch,
                    "input depth %d is not a multiple of filter depth %d dividing %d filters",
                    static_cast<int>(s.in_depth), static_cast<int>(s.filter_depth),
                    static_cast<int>(s.out_depth));
  }
  const Status batch_depth = CheckOutputBatchDepth(ctx, output, s.batches, s.out_depth);
  if (batch_depth != Status::kOk) return batch_depth;
  const Status window = CheckWindow(ctx, padding, s.g, output);
  if (window != Status::kOk) return window;

  if (ctx.NumInputs() == 3 && ctx.HasInput(2)) {
    const TensorView bias = ctx.Input(2);
    const Status b = CheckConvBias(ctx, bias, input, types, s.out_depth, "filters");
    if (b != Status::kOk) return b;
  }
  if (!is_float) {
    const Status q = CheckConvQuantization(ctx, input, filter, output, 0);
    if (q != Status::kOk) return q;
  }
  size_t spare_min = 0;
  const size_t spare = LayerSpareBytes(s, input.type, &spare_min);
  if (spare > 0) {
    int index;  // kLayerSpareIndex: the op's first scratch request
    const Status requested = ctx.RequestSpareScratch(spare_min, spare, &index);
    if (requested != Status::kOk) return requested;
  }
  if (!kKernelsHaveConvFallback && types.is_int8 &&
      !opt::ConvDspPathServes(s.g, s.in_depth, s.filter_depth, s.out_depth, input, filter,
                              output)) {
    return ctx.Fail(Status::kUnsupportedType, kFallbackCompiledOut, "DSP",
                    "MD_KERNELS_NO_CONV_FALLBACK");
  }
  return Status::kOk;
}

// Quantized convolution for one chunk of output channels [c0, c1). AccT is
// the accumulator (int32 for int8 and int16-with-int32-bias, int64 for
// int16-with-int64-bias), as in TFLite's ConvPerChannel templates.
template <typename InT, typename AccT, typename BiasT, typename OutT>
void ConvChunk(const ConvShape& s, const InT* input, const int8_t* filter, const BiasT* bias,
               OutT* output, int32_t input_offset, int32_t output_offset, int32_t act_min,
               int32_t act_max, int32_t c0, int32_t c1, const int32_t* multiplier,
               const int* shift) {
  const WindowGeometry& g = s.g;
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t in_y_origin = out_y * g.stride_h - g.pad_h;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t in_x_origin = out_x * g.stride_w - g.pad_w;
        OutT* out = output + ((b * g.out_h + out_y) * g.out_w + out_x) * s.out_depth;
        for (int32_t oc = c0; oc < c1; ++oc) {
          const int32_t group = oc / s.filters_per_group;
          const InT* in_group = input + group * s.filter_depth;
          const int8_t* filter_oc = filter + oc * g.filter_h * g.filter_w * s.filter_depth;
          AccT acc = 0;
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = in_y_origin + g.dilation_h * fy;
            if (in_y < 0 || in_y >= s.in_h) continue;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = in_x_origin + g.dilation_w * fx;
              if (in_x < 0 || in_x >= s.in_w) continue;
              const InT* in_px = in_group + ((b * s.in_h + in_y) * s.in_w + in_x) * s.in_depth;
              const int8_t* f_px = filter_oc + (fy * g.filter_w + fx) * s.filter_depth;
              for (int32_t ic = 0; ic < s.filter_depth; ++ic) {
                acc = WrappingAdd<AccT>(acc, static_cast<int32_t>(f_px[ic]) *
                                                 (static_cast<int32_t>(in_px[ic]) + input_offset));
              }
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
void ConvQuantized(const ConvShape& s, const TensorView& input, const TensorView& filter,
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
    ConvChunk<InT, AccT, BiasT, OutT>(s, input.Data<const InT>(), filter.Data<const int8_t>(), bias,
                                      output.Data<OutT>(), input_offset, output_offset, act_min,
                                      act_max, c0, c1, multiplier, shift);
  }
}

// Float results must not depend on FMA contraction (float_exact_common.h).
MD_NO_FP_CONTRACT void ConvFloat(const ConvShape& s, const float* input, const float* filter,
                                 const float* bias, float* output, float act_min, float act_max) {
  const WindowGeometry& g = s.g;
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t in_y_origin = out_y * g.stride_h - g.pad_h;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t in_x_origin = out_x * g.stride_w - g.pad_w;
        float* out = output + ((b * g.out_h + out_y) * g.out_w + out_x) * s.out_depth;
        for (int32_t oc = 0; oc < s.out_depth; ++oc) {
          const int32_t group = oc / s.filters_per_group;
          const float* in_group = input + group * s.filter_depth;
          const float* filter_oc = filter + oc * g.filter_h * g.filter_w * s.filter_depth;
          float total = 0.0f;
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = in_y_origin + g.dilation_h * fy;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = in_x_origin + g.dilation_w * fx;
              if (in_y < 0 || in_y >= s.in_h || in_x < 0 || in_x >= s.in_w) continue;
              const float* in_px = in_group + ((b * s.in_h + in_y) * s.in_w + in_x) * s.in_depth;
              const float* f_px = filter_oc + (fy * g.filter_w + fx) * s.filter_depth;
              for (int32_t ic = 0; ic < s.filter_depth; ++ic) {
                total += in_px[ic] * f_px[ic];
              }
            }
          }
          const float bias_value = bias != nullptr ? bias[oc] : 0.0f;
          float v = total + bias_value;
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
opt::ConvInt8Args Int8Args(const ConvShape& s, const TensorView& input, const TensorView& filter,
                           const int32_t* bias, const TensorView& output, int32_t input_offset,
                           int32_t output_offset, int32_t act_min, int32_t act_max) {
  return {input.Data<const int8_t>(),
          filter.Data<const int8_t>(),
          bias,
          output.Data<int8_t>(),
          s.batches,
          s.in_h,
          s.in_w,
          s.in_depth,
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
  ConvShape s = {
      1, call.in_h, call.in_w, call.in_depth, call.in_depth, 1, call.out_depth, call.out_depth, g};
  ApplyBand(band, &s, &input, &output);
  const BandConstantsView constants = ReadBandConstants(band.constants);
  const opt::ConvInt8Args args =
      Int8Args(s, input, filter, BandCallPointer<const int32_t>(call.bias), output,
               call.input_offset, call.output_offset, call.act_min, call.act_max);
  if (opt::ConvInt8Optimized(args, input, filter, output, &constants)) return Status::kOk;
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
  ConvShape s;
  int32_t padding = 0;
  ReadShape(ctx, input, filter, &s, &padding);
  [[maybe_unused]] const ConvShape full = s;  // what a kept call holds (BandCall)
  ApplyBand(band, &s, &input, &output);       // patch-based execution: one band of rows
  const FusedActivation act = ReadActivation(ctx);

  // Compiled-out variants (type_variants.h) never get here: prepare rejected them.
  if (kKernelsHaveFloat32 && input.type == DataType::kFloat32) {
    float act_min, act_max;
    CalculateActivationRangeFloat(act, &act_min, &act_max);
    ConvFloat(s, input.Data<const float>(), filter.Data<const float>(),
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
                         s.g.filter_h * s.g.filter_w * s.filter_depth,
                         BandFilterLayout::kPerChannelBlock, &constants);
#if MD_KERNELS_OPTIMIZED
    if (s.groups == 1) {
      const opt::ConvInt8Args args =
          Int8Args(s, input, filter, bias_data, output, -input.zero_point, output.zero_point,
                   act_min, act_max);
#if MD_KERNELS_ARM_DSP
      // The op's first band in a stage: the 1x1 DSP path may keep the constants in its form.
      if (cached != nullptr && band.fill_constants &&
          opt::PointwiseBandForm(band.constants, args, !opt::IsPointwise(args))) {
        constants = ReadBandConstants(band.constants);
      }
#endif
      opt::PointwiseSpare spare;
#if MD_KERNELS_ARM_DSP
      LayerSpare(ctx, band, &spare);
#endif
      if (opt::ConvInt8Optimized(args, input, filter, output, cached, &spare)) {
        if (cached != nullptr && band.fill_constants) {  // the op's later bands reuse the call
          StoreBandCall(band, input, filter, output, args.bias, full.batches, full.in_h, full.in_w,
                        full.in_depth, 1, full.out_depth, full.g, act_min, act_max);
        }
        return Status::kOk;
      }
    }
#endif
    if constexpr (!kConvFallbackLinked) {  // prepare accepted only ops on the DSP path
      return ctx.Fail(Status::kUnsupportedType,
                      "int8 path compiled out (MD_KERNELS_NO_CONV_FALLBACK)");
    }
#if MD_KERNELS_ARM_DSP
    // (An area in the 1x1 DSP path's form has no generic records; PointwiseBandForm only writes
    // one for ops that never get here.)
    if (cached != nullptr && cached->pointwise_form()) cached = nullptr;
#endif
    ConvQuantized<int8_t, int32_t, int32_t, int8_t>(s, input, filter, bias_data, output,
                                                    -input.zero_point, output.zero_point, act_min,
                                                    act_max, cached);
  } else if (!kKernelsHaveInt16 || input.type != DataType::kInt16) {
    return Status::kUnsupportedType;
  } else if (has_bias && bias.type == DataType::kInt32) {
    // TFLM's 16x8 kernel with an int32 bias accumulates in int32. It ignores
    // the (symmetric, zero) int16 zero points.
    ConvQuantized<int16_t, int32_t, int32_t, int16_t>(s, input, filter, bias.Data<const int32_t>(),
                                                      output, 0, 0, act_min, act_max);
  } else {
    // int64 bias or no bias: int64 accumulator (as TFLM).
    ConvQuantized<int16_t, int64_t, int64_t, int16_t>(
        s, input, filter, has_bias ? bias.Data<const int64_t>() : nullptr, output, 0, 0, act_min,
        act_max);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_CONV_2D() {
  static const KernelRegistration registration = {kOpConv2D, "CONV_2D", Prepare, Invoke, true};
  return registration;
}

}  // namespace md
