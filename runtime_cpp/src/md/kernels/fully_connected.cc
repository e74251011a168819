// FULLY_CONNECTED: TFLite's reference kernels, bit-exact with TFLM.
//   int8 x int8 per-tensor (filter zero point applied) or per-channel
//     (symmetric filter), optional int32 bias -> int8
//   int16 x int8 with an int32 bias (int32 accumulator), or an int64 bias
//     or none (int64 accumulator) -> int16
//   float32
// Filter [out_depth, accum_depth]; the input is read as
// [batches, accum_depth] whatever its rank, the output as
// [batches, out_depth] (keep_num_dims only changes the output's stored shape).
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/float_exact_common.h"
#include "md/kernels/fully_connected_opt.h"
#include "md/kernels/register.h"
#include "md/kernels/type_variants.h"
#include "md/quant.h"

namespace md {
namespace {

// FullyConnectedOptions slots (schema.fbs).
constexpr int kActivation = 0;
constexpr int kWeightsFormat = 1;

struct FcShape {
  int32_t batches, accum_depth, out_depth;
};

FcShape ReadShape(const TensorView& filter, const TensorView& output) {
  FcShape s;
  s.out_depth = output.rank > 0 ? output.Dim(output.rank - 1) : 1;
  s.accum_depth = filter.Dim(filter.rank - 1);
  s.batches = s.out_depth > 0 ? output.FlatSize() / s.out_depth : 0;
  return s;
}

bool HasBias(const OpContext& ctx) { return ctx.NumInputs() >= 3 && ctx.HasInput(2); }

bool IsPerChannel(const TensorView& filter) { return filter.num_channels > 1; }

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() < 2 || ctx.NumInputs() > 3 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kInvalidArgument, "expects 2 or 3 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  if (!ctx.HasInput(0) || !ctx.HasInput(1)) {
    return ctx.Fail(Status::kInvalidArgument, "input and weights are required");
  }
  const TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  const TensorView output = ctx.Output(0);
  if (ctx.Options().GetInt8(kWeightsFormat, 0) != 0) {
    return ctx.Fail(Status::kUnsupportedType, "shuffled weights format is not supported");
  }
  const ConvOperandTypes types = ClassifyConvOperands(input, filter);
  const bool is_float = types.is_float;
  if (!(is_float || types.is_int8 || types.is_int16) || output.type != input.type) {
    return ctx.Fail(Status::kUnsupportedType,
                    "unsupported types input=%s weights=%s output=%s (supported: float32, "
                    "int8 x int8, int16 x int8; hybrid models are not supported)",
                    DataTypeName(input.type), DataTypeName(filter.type), DataTypeName(output.type));
  }
  const Status compiled_in = CheckTypeVariantCompiledIn(ctx, input.type);
  if (compiled_in != Status::kOk) return compiled_in;
  if (filter.rank != 2 || output.rank < 1) {
    return ctx.Fail(Status::kShapeMismatch,
                    "weights must be 2-D and output at least 1-D "
                    "(got ranks %d and %d)",
                    static_cast<int>(filter.rank), static_cast<int>(output.rank));
  }
  const FcShape s = ReadShape(filter, output);
  if (s.out_depth != filter.Dim(0) || s.accum_depth < 1) {
    return ctx.Fail(Status::kShapeMismatch, "output depth %d does not match weights [%d, %d]",
                    static_cast<int>(s.out_depth), static_cast<int>(filter.Dim(0)),
                    static_cast<int>(filter.Dim(1)));
  }
  // 64-bit product: hostile output and weight shapes overflow 32 bits here.
  if (input.FlatSize() != static_cast<int64_t>(s.batches) * s.accum_depth) {
    return ctx.Fail(Status::kShapeMismatch, "input has %d values, expected %d batches x %d inputs",
                    static_cast<int>(input.FlatSize()), static_cast<int>(s.batches),
                    static_cast<int>(s.accum_depth));
  }
  if (HasBias(ctx)) {
    const TensorView bias = ctx.Input(2);
    const Status b = CheckConvBias(ctx, bias, input, types, s.out_depth, "outputs");
    if (b != Status::kOk) return b;
  }
  if (!is_float) {
    const Status q = CheckConvQuantization(ctx, input, filter, output, 0);
    if (q != Status::kOk) return q;
  }
  return Status::kOk;
}

// Output channels [c0, c1) of every batch. `filter_offset` is 0 for
// per-channel weights (TFLite treats them as symmetric).
template <typename InT, typename AccT, typename BiasT, typename OutT>
void FcChunk(const FcShape& s, const InT* input, const int8_t* filter, const BiasT* bias,
             OutT* output, int32_t input_offset, int32_t filter_offset, int32_t output_offset,
             int32_t act_min, int32_t act_max, int32_t c0, int32_t c1, const int32_t* multiplier,
             const int* shift, bool per_channel) {
  for (int32_t b = 0; b < s.batches; ++b) {
    const InT* in = input + b * s.accum_depth;
    for (int32_t oc = c0; oc < c1; ++oc) {
      const int8_t* w = filter + oc * s.accum_depth;
      AccT acc = 0;
      for (int32_t d = 0; d < s.accum_depth; ++d) {
        acc = WrappingAdd<AccT>(acc, (static_cast<int32_t>(w[d]) + filter_offset) *
                                         (static_cast<int32_t>(in[d]) + input_offset));
      }
      if (bias != nullptr) acc = WrappingAdd<AccT>(acc, bias[oc]);
      const int k = per_channel ? oc - c0 : 0;
      int32_t v = MultiplyByQuantizedMultiplier(acc, multiplier[k], shift[k]);
      v = WrappingAdd(v, output_offset);
      v = v < act_min ? act_min : v;
      v = v > act_max ? act_max : v;
      output[b * s.out_depth + oc] = static_cast<OutT>(v);
    }
  }
}

template <typename InT, typename AccT, typename BiasT, typename OutT>
void FcQuantized(const FcShape& s, const TensorView& input, const TensorView& filter,
                 const BiasT* bias, const TensorView& output, int32_t act_min, int32_t act_max) {
  int32_t multiplier[kChannelChunk];
  int shift[kChannelChunk];
  const bool per_channel = IsPerChannel(filter);
  const InT* in = input.Data<const InT>();
  const int8_t* w = filter.Data<const int8_t>();
  OutT* out = output.Data<OutT>();
  if (!per_channel) {
    // TFLM forms input_scale x filter_scale in double here too (a float product would
    // round differently in rare cases; tests/kernels/test_fully_connected.py pins this).
    ChannelOutputMultiplier(input.scale, filter.scale, output.scale, &multiplier[0], &shift[0]);
    FcChunk<InT, AccT, BiasT, OutT>(s, in, w, bias, out, -input.zero_point, -filter.zero_point,
                                    output.zero_point, act_min, act_max, 0, s.out_depth, multiplier,
                                    shift, false);
    return;
  }
  for (int32_t c0 = 0; c0 < s.out_depth; c0 += kChannelChunk) {
    const int32_t c1 = c0 + kChannelChunk < s.out_depth ? c0 + kChannelChunk : s.out_depth;
    for (int32_t oc = c0; oc < c1; ++oc) {
      ChannelOutputMultiplier(input.scale, filter.scales[oc], output.scale, &multiplier[oc - c0],
                              &shift[oc - c0]);
    }
    FcChunk<InT, AccT, BiasT, OutT>(s, in, w, bias, out, -input.zero_point, 0, output.zero_point,
                                    act_min, act_max, c0, c1, multiplier, shift, true);
  }
}

// Float results must not depend on FMA contraction (float_exact_common.h).
MD_NO_FP_CONTRACT void FcFloat(const FcShape& s, const float* input, const float* filter,
                               const float* bias, float* output, float act_min, float act_max) {
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t oc = 0; oc < s.out_depth; ++oc) {
      float total = 0.0f;
      for (int32_t d = 0; d < s.accum_depth; ++d) {
        total += input[b * s.accum_depth + d] * filter[oc * s.accum_depth + d];
      }
      float v = total + (bias != nullptr ? bias[oc] : 0.0f);
      v = v < act_min ? act_min : v;
      v = v > act_max ? act_max : v;
      output[b * s.out_depth + oc] = v;
    }
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView filter = ctx.Input(1);
  const TensorView output = ctx.Output(0);
  const bool has_bias = HasBias(ctx);
  const TensorView bias = has_bias ? ctx.Input(2) : TensorView();
  const FcShape s = ReadShape(filter, output);
  const auto act = static_cast<FusedActivation>(ctx.Options().GetInt8(kActivation, 0));

  // Compiled-out variants (type_variants.h) never get here: prepare rejected them.
  if (kKernelsHaveFloat32 && input.type == DataType::kFloat32) {
    float act_min, act_max;
    CalculateActivationRangeFloat(act, &act_min, &act_max);
    FcFloat(s, input.Data<const float>(), filter.Data<const float>(),
            has_bias ? bias.Data<const float>() : nullptr, output.Data<float>(), act_min, act_max);
    return Status::kOk;
  }
  int32_t act_min, act_max;
  OutputActivationRange(act, output, &act_min, &act_max);
  if (input.type == DataType::kInt8) {
#if MD_KERNELS_OPTIMIZED
    const opt::FcInt8Args args = {input.Data<const int8_t>(),
                                  filter.Data<const int8_t>(),
                                  has_bias ? bias.Data<const int32_t>() : nullptr,
                                  output.Data<int8_t>(),
                                  s.batches,
                                  s.accum_depth,
                                  s.out_depth,
                                  -input.zero_point,
                                  output.zero_point,
                                  act_min,
                                  act_max};
    if (opt::FcInt8Optimized(args, input, filter, output)) return Status::kOk;
#endif
    FcQuantized<int8_t, int32_t, int32_t, int8_t>(s, input, filter,
                                                  has_bias ? bias.Data<const int32_t>() : nullptr,
                                                  output, act_min, act_max);
  } else if (!kKernelsHaveInt16 || input.type != DataType::kInt16) {
    return Status::kUnsupportedType;
  } else if (has_bias && bias.type == DataType::kInt32) {
    // int16 with an int32 bias: int32 accumulator (as TFLM).
    FcQuantized<int16_t, int32_t, int32_t, int16_t>(s, input, filter, bias.Data<const int32_t>(),
                                                    output, act_min, act_max);
  } else {
    // int16 with an int64 bias or none: int64 accumulator (as TFLM).
    FcQuantized<int16_t, int64_t, int64_t, int16_t>(s, input, filter,
                                                    has_bias ? bias.Data<const int64_t>() : nullptr,
                                                    output, act_min, act_max);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_FULLY_CONNECTED() {
  static const KernelRegistration registration = {kOpFullyConnected, "FULLY_CONNECTED", Prepare,
                                                  Invoke};
  return registration;
}

}  // namespace md
