// SOFTMAX over the last dimension, bit-exact with TFLM's reference kernels:
//   int8  -> int8  (output scale 1/256, zero point -128)
//   int8  -> int16 (output scale 1/65536, zero point -32768)
//   int16 -> int16 (output scale 1/32768, zero point 0): TFLM's LUT path
//   float32 -> float32
// The int8 paths use gemmlowp fixed point (exp_on_negative_values and a
// Newton-Raphson reciprocal, TFLM micro/kernels/internal/fixedpoint.h); the
// int16 path uses two 513-entry interpolated tables built in prepare exactly
// as TFLM builds them (LUTPopulate<int16_t>); they are the only persistent
// data (2 x 1026 bytes) and only exist for int16 inputs. e^x comes from
// ExpLikeTflm (exp_common.h) so targets whose libm rounds expf differently
// still match.
#include <cmath>
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/exp_common.h"
#include "md/kernels/register.h"
#include "md/kernels/type_variants.h"
#include "md/quant.h"

namespace md {
namespace {

// SoftmaxOptions slot (schema.fbs); beta defaults to 0 like TFLite's parser.
constexpr int kBeta = 0;

constexpr int kLutSize = 513;
constexpr int kScaledDiffIntegerBits = 5;     // input of exp(): Q5.26
constexpr int kAccumulationIntegerBits = 12;  // sum of exps: Q12.19

// ---- gemmlowp fixed point on int32 raw values --------------------------------------------

int32_t WrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
int32_t WrapSub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}

// SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0.
int32_t SaturatingShiftLeft(int32_t x, int exponent) {
  const int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return std::numeric_limits<int32_t>::max();
  if (x < -threshold) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(static_cast<int64_t>(x) * (int64_t{1} << exponent));
}

int32_t RoundingHalfSum(int32_t a, int32_t b) {
  const int64_t sum = static_cast<int64_t>(a) + static_cast<int64_t>(b);
  const int64_t sign = sum >= 0 ? 1 : -1;
  return static_cast<int32_t>((sum + sign) / 2);
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out.
int32_t ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(int32_t a) {
  const int32_t constant_term = 1895147668;     // exp(-1/8)
  const int32_t constant_1_over_3 = 715827883;  // 1/3
  const int32_t x = WrapAdd(a, 1 << 28);        // a + 1/8
  const int32_t x2 = SaturatingRoundingDoublingHighMul(x, x);
  const int32_t x3 = SaturatingRoundingDoublingHighMul(x2, x);
  const int32_t x4 = SaturatingRoundingDoublingHighMul(x2, x2);
  const int32_t x4_over_4 = RoundingDivideByPOT(x4, 2);
  const int32_t poly = RoundingDivideByPOT(
      WrapAdd(SaturatingRoundingDoublingHighMul(WrapAdd(x4_over_4, x3), constant_1_over_3), x2), 1);
  return WrapAdd(constant_term, SaturatingRoundingDoublingHighMul(constant_term, WrapAdd(x, poly)));
}

// exp(a) for a <= 0 given in Q5.26 (kScaledDiffIntegerBits), result in Q0.31.
int32_t ExpOnNegativeValues(int32_t a) {
  constexpr int kIntegerBits = kScaledDiffIntegerBits;
  constexpr int kFractionalBits = 31 - kIntegerBits;
  const int32_t one_quarter = 1 << (kFractionalBits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = WrapSub(a & mask, one_quarter);
  int32_t result = ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(
      SaturatingShiftLeft(a_mod_quarter_minus_one_quarter, kIntegerBits));  // Rescale<0>
  const int32_t remainder = WrapSub(a_mod_quarter_minus_one_quarter, a);
  // Barrel shifter: multiply by exp(-2^k) for every bit k of the remainder.
  struct Step {
    int exponent;
    int32_t multiplier;
  };
  constexpr Step kSteps[] = {{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
                             {2, 39332535},    {3, 720401},      {4, 242}};
  for (const Step& step : kSteps) {
    if (kIntegerBits > step.exponent) {
      const int shift = kFractionalBits + step.exponent;
      if ((remainder & (1 << shift)) != 0) {
        result = SaturatingRoundingDoublingHighMul(result, step.multiplier);
      }
    }
  }
  // (No clamp below -32: only needed when kIntegerBits > 5.)
  return a == 0 ? std::numeric_limits<int32_t>::max() : result;
}

// 1 / (1 + a) for a in [0, 1), Q0.31 in and out (Newton-Raphson).
int32_t OneOverOnePlusXForXIn01(int32_t a) {
  const int32_t half_denominator = RoundingHalfSum(a, std::numeric_limits<int32_t>::max());
  const int32_t constant_48_over_17 = 1515870810;       // Q2.29
  const int32_t constant_neg_32_over_17 = -1010580540;  // Q2.29
  const int32_t one_q2 = 1 << 29;
  int32_t x = WrapAdd(constant_48_over_17,
                      SaturatingRoundingDoublingHighMul(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = SaturatingRoundingDoublingHighMul(half_denominator, x);
    const int32_t one_minus = WrapSub(one_q2, half_denominator_times_x);
    x = WrapAdd(x, SaturatingShiftLeft(SaturatingRoundingDoublingHighMul(x, one_minus), 2));
  }
  return SaturatingShiftLeft(x, 1);  // Rescale<0>(ExactMulByPot<-1>(x))
}

int CountLeadingZeros32(uint32_t x) { return x == 0 ? 32 : __builtin_clz(x); }

// tflite::GetReciprocal.
int32_t GetReciprocal(int32_t x, int x_integer_digits, int* num_bits_over_unit) {
  const int headroom_plus_one = CountLeadingZeros32(static_cast<uint32_t>(x));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const int32_t shifted_sum_minus_one = static_cast<int32_t>(
      (static_cast<uint32_t>(x) << headroom_plus_one) - (static_cast<uint32_t>(1) << 31));
  return OneOverOnePlusXForXIn01(shifted_sum_minus_one);
}

// ---- int8 input ---------------------------------------------------------------------------

struct Int8Params {
  int32_t input_multiplier;
  int input_left_shift;
  int32_t diff_min;
};

// tflite::PreprocessSoftmaxScaling + CalculateInputRadius (default double-rounding build).
// Returns false when the multiplier would be below one (TFLM aborts there).
bool ComputeInt8Params(float beta, float input_scale, Int8Params* p) {
  const double max_real_multiplier = static_cast<double>((int64_t{1} << 31) - 1);
  double real_multiplier = static_cast<double>(beta) * static_cast<double>(input_scale) *
                           static_cast<double>(1 << (31 - kScaledDiffIntegerBits));
  if (real_multiplier > max_real_multiplier) real_multiplier = max_real_multiplier;
  if (!(real_multiplier > 1.0)) return false;
  QuantizeMultiplier(real_multiplier, &p->input_multiplier, &p->input_left_shift);
  if (p->input_left_shift < 0) return false;
  const double max_input_rescaled =
      1.0 * ((1 << kScaledDiffIntegerBits) - 1) *
      static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
      static_cast<double>(int64_t{1} << p->input_left_shift);
  p->diff_min = -static_cast<int32_t>(std::floor(max_input_rescaled));
  return true;
}

template <typename OutT>
void SoftmaxInt8(const Int8Params& p, const int8_t* input, OutT* output, int32_t outer,
                 int32_t depth) {
  for (int32_t i = 0; i < outer; ++i) {
    const int8_t* in = input + i * depth;
    OutT* out = output + i * depth;
    int8_t max_in_row = std::numeric_limits<int8_t>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = in[c] > max_in_row ? in[c] : max_in_row;

    int32_t sum_of_exps = 0;  // Q12.19
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = static_cast<int32_t>(in[c]) - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t scaled = MultiplyByQuantizedMultiplierGreaterThanOne(diff, p.input_multiplier,
                                                                           p.input_left_shift);
        sum_of_exps = WrapAdd(sum_of_exps, RoundingDivideByPOT(ExpOnNegativeValues(scaled),
                                                               kAccumulationIntegerBits));
      }
    }
    int num_bits_over_unit = 0;
    const int32_t shifted_scale =
        GetReciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    const int exponent = num_bits_over_unit + 31 - static_cast<int>(sizeof(OutT) * 8);
    constexpr int32_t kMin = std::numeric_limits<OutT>::min();
    constexpr int32_t kMax = std::numeric_limits<OutT>::max();
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = static_cast<int32_t>(in[c]) - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t scaled = MultiplyByQuantizedMultiplierGreaterThanOne(diff, p.input_multiplier,
                                                                           p.input_left_shift);
        const int32_t exp_in_0 = ExpOnNegativeValues(scaled);
        const int32_t unsat = RoundingDivideByPOT(
            SaturatingRoundingDoublingHighMul(shifted_scale, exp_in_0), exponent);
        int32_t v = unsat + kMin;
        v = v > kMax ? kMax : v;
        v = v < kMin ? kMin : v;
        out[c] = static_cast<OutT>(v);
      } else {
        out[c] = static_cast<OutT>(kMin);
      }
    }
  }
}

// ---- int16 input (LUT path) ---------------------------------------------------------------

// TFLM's LUTPopulateInt16<float>: 512 interpolation steps over the input
// range plus one end point, each entry biased so the interpolated midpoint
// error is halved.
template <typename Fn>
void PopulateLut(float input_scale, int32_t input_zero_point, float output_scale,
                 int32_t output_zero_point, Fn transform, int16_t* lut) {
  const float input_min = input_scale * static_cast<float>(-32768 - input_zero_point);
  const float input_max = input_scale * static_cast<float>(32767 - input_zero_point);
  const float output_min = output_scale * static_cast<float>(-32768 - output_zero_point);
  const float output_max = output_scale * static_cast<float>(32767 - output_zero_point);
  const int nb_steps = 512;
  const float step = (input_max - input_min) / nb_steps;
  const float half_step = step / 2;
  const float output_scaling_inv = static_cast<float>(65536) / (output_max - output_min);
  const float table_min = -32768.0f;
  const float table_max = 32767.0f;
  auto clamp = [&](float v) { return v < table_min ? table_min : (v > table_max ? table_max : v); };
  for (int i = 0; i < nb_steps; ++i) {
    const float val = transform(input_min + i * step);
    const float val_midpoint = transform(input_min + i * step + half_step);
    const float val_next = transform(input_min + (i + 1) * step);
    const float sample_val = std::round(val * output_scaling_inv);
    const float midpoint_interp_val =
        std::round((val_next * output_scaling_inv + std::round(val * output_scaling_inv)) / 2);
    const float midpoint_val = std::round(val_midpoint * output_scaling_inv);
    const float midpoint_err = midpoint_interp_val - midpoint_val;
    const float bias = std::round(midpoint_err / 2);
    lut[i] = static_cast<int16_t>(clamp(sample_val - bias));
  }
  lut[nb_steps] =
      static_cast<int16_t>(clamp(std::round(transform(input_max) * output_scaling_inv)));
}

struct Int16Luts {
  int16_t exp[kLutSize];
  int16_t one_over_one_plus_x[kLutSize];
};

void BuildInt16Luts(Int16Luts* luts) {
  const int32_t range = 65535;
  PopulateLut(
      10.0f / range, 32767, 2.0f / range, 0, [](float v) { return ExpLikeTflm(v); }, luts->exp);
  PopulateLut(
      1.0f / range, -32768, 2.0f / range, 0, [](float v) { return 1.0f / (1.0f + v); },
      luts->one_over_one_plus_x);
}

// tflite LUTLookup for int16 -> int16 with linear interpolation.
int16_t LutLookup(int16_t value, const int16_t* lut) {
  const uint16_t index = static_cast<uint16_t>(256 + (value >> 7));
  const int16_t offset = static_cast<int16_t>(value & 0x7f);
  const int16_t base = lut[index];
  const int16_t slope = static_cast<int16_t>(lut[index + 1] - lut[index]);
  const int delta = (slope * offset + 64) >> 7;
  return static_cast<int16_t>(base + delta);
}

void SoftmaxInt16(const Int16Luts& luts, int32_t input_multiplier, int input_shift,
                  const int16_t* input, int16_t* output, int32_t outer, int32_t depth) {
  for (int32_t i = 0; i < outer; ++i) {
    const int16_t* in = input + i * depth;
    int16_t* out = output + i * depth;
    int16_t max_in_row = std::numeric_limits<int16_t>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = in[c] > max_in_row ? in[c] : max_in_row;

    // exp values are cached in the output (as TFLM does), Q0.15.
    int32_t sum_of_exps = 0;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = static_cast<int32_t>(in[c]) - max_in_row;
      const int32_t scaled = MultiplyByQuantizedMultiplier(diff, input_multiplier, input_shift);
      int32_t sym = scaled + 32767;
      sym = sym < -32768 ? -32768 : (sym > 32767 ? 32767 : sym);
      out[c] = LutLookup(static_cast<int16_t>(sym), luts.exp);
      sum_of_exps += out[c];
    }
    const int headroom_plus_one = CountLeadingZeros32(static_cast<uint32_t>(sum_of_exps));
    const int32_t shifted_sum = static_cast<int32_t>(
        ((static_cast<int64_t>(sum_of_exps) << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    int32_t sym_shifted_sum = shifted_sum + (-((1 << 15) + (1 << 16)));
    sym_shifted_sum =
        sym_shifted_sum < -32768 ? -32768 : (sym_shifted_sum > 32767 ? 32767 : sym_shifted_sum);
    const int16_t reciprocal =
        LutLookup(static_cast<int16_t>(sym_shifted_sum), luts.one_over_one_plus_x);
    const int right_shift = 31 - headroom_plus_one;
    const int64_t round = int64_t{1} << (right_shift - 1);
    for (int32_t c = 0; c < depth; ++c) {
      int32_t v = static_cast<int32_t>(
          (static_cast<int64_t>(out[c]) * static_cast<int64_t>(reciprocal) + round) >> right_shift);
      v = v < 0 ? 0 : (v > 32767 ? 32767 : v);
      out[c] = static_cast<int16_t>(v);
    }
  }
}

// ---- float --------------------------------------------------------------------------------

void SoftmaxFloat(float beta, const float* input, float* output, int32_t outer, int32_t depth) {
  for (int32_t i = 0; i < outer; ++i) {
    const float* in = input + i * depth;
    float* out = output + i * depth;
    float max = std::numeric_limits<float>::lowest();
    for (int32_t c = 0; c < depth; ++c) max = max < in[c] ? in[c] : max;
    float sum = 0.0f;
    for (int32_t c = 0; c < depth; ++c) {
      const float e = ExpLikeTflm((in[c] - max) * beta);
      out[c] = e;
      sum += e;
    }
    for (int32_t c = 0; c < depth; ++c) out[c] = out[c] / sum;
  }
}

// ---- kernel -------------------------------------------------------------------------------

bool Near(float a, float b, float tolerance) { return std::fabs(a - b) <= tolerance; }

MD_INIT_CODE Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 1 || ctx.NumOutputs() != 1 || !ctx.HasInput(0)) {
    return ctx.Fail(Status::kInvalidArgument, "expects 1 input and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (input.rank < 1 || output.rank < 1 || input.FlatSize() != output.FlatSize() ||
      output.Dim(output.rank - 1) != input.Dim(input.rank - 1)) {
    return ctx.Fail(Status::kShapeMismatch, "output shape must equal the input shape");
  }
  const Status compiled_in = CheckTypeVariantsCompiledIn(ctx, input.type, output.type);
  if (compiled_in != Status::kOk) return compiled_in;
  const float beta = ctx.Options().GetFloat(kBeta, 0.0f);
  if (input.type == DataType::kFloat32 && output.type == DataType::kFloat32) return Status::kOk;
  if (input.type == DataType::kInt8 && output.type == DataType::kInt8) {
    if (output.zero_point != -128 || output.scale != 1.0f / 256) {
      return ctx.Fail(Status::kUnsupportedType,
                      "int8 output must have scale 1/256 and zero point -128 (got %g, %d)",
                      static_cast<double>(output.scale), static_cast<int>(output.zero_point));
    }
  } else if (kKernelsHaveInt16 && input.type == DataType::kInt8 &&
             output.type == DataType::kInt16) {  // (else rejected above when compiled out)
    if (output.zero_point != -32768 || !Near(output.scale, 1.0f / 65536, 0.001f / 65536)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "int16 output of int8 input must have scale 1/65536 and zero point -32768 "
                      "(got %g, %d)",
                      static_cast<double>(output.scale), static_cast<int>(output.zero_point));
    }
  } else if (kKernelsHaveInt16 && input.type == DataType::kInt16 &&
             output.type == DataType::kInt16) {
    if (output.zero_point != 0 || !Near(output.scale, 1.0f / 32768, 0.001f / 32768)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "int16 output must have scale 1/32768 and zero point 0 (got %g, %d)",
                      static_cast<double>(output.scale), static_cast<int>(output.zero_point));
    }
    auto* luts = static_cast<Int16Luts*>(ctx.AllocatePersistent(sizeof(Int16Luts)));
    if (luts == nullptr) return Status::kArenaTooSmall;
    BuildInt16Luts(luts);
    ctx.set_user_data(luts);
    return Status::kOk;
  } else {
    return ctx.Fail(Status::kUnsupportedType,
                    "unsupported types input=%s output=%s (supported: float32, int8->int8, "
                    "int8->int16, int16->int16)",
                    DataTypeName(input.type), DataTypeName(output.type));
  }
  Int8Params p;
  if (!ComputeInt8Params(beta, input.scale, &p)) {
    return ctx.Fail(Status::kUnsupportedType,
                    "beta x input scale (%g x %g) is too small for TFLite's int8 softmax",
                    static_cast<double>(beta), static_cast<double>(input.scale));
  }
  return Status::kOk;
}

Status Invoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  const int32_t depth = input.Dim(input.rank - 1);
  const int32_t outer = depth > 0 ? input.FlatSize() / depth : 0;
  const float beta = ctx.Options().GetFloat(kBeta, 0.0f);
  // Compiled-out variants (type_variants.h) never get here: prepare rejected them.
  if (kKernelsHaveFloat32 && input.type == DataType::kFloat32) {
    SoftmaxFloat(beta, input.Data<const float>(), output.Data<float>(), outer, depth);
  } else if (input.type == DataType::kInt8) {
    Int8Params p;
    ComputeInt8Params(beta, input.scale, &p);  // validated in prepare
    if (output.type == DataType::kInt8) {
      SoftmaxInt8<int8_t>(p, input.Data<const int8_t>(), output.Data<int8_t>(), outer, depth);
    } else if (kKernelsHaveInt16) {
      SoftmaxInt8<int16_t>(p, input.Data<const int8_t>(), output.Data<int16_t>(), outer, depth);
    } else {
      return Status::kUnsupportedType;  // a compiled-out variant (prepare rejects it)
    }
  } else if (kKernelsHaveInt16 && input.type == DataType::kInt16) {
    // Scale so that input differences [-65535, 0] map to [-10, 0].
    const double rescale =
        static_cast<double>(input.scale) * static_cast<double>(beta) / (10.0 / 65535.0);
    int32_t multiplier;
    int shift;
    QuantizeMultiplier(rescale, &multiplier, &shift);
    SoftmaxInt16(*static_cast<const Int16Luts*>(ctx.user_data()), multiplier, shift,
                 input.Data<const int16_t>(), output.Data<int16_t>(), outer, depth);
  } else {
    return Status::kUnsupportedType;  // a compiled-out variant (prepare rejects it)
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_SOFTMAX() {
  static const KernelRegistration registration = {kOpSoftmax, "SOFTMAX", Prepare, Invoke};
  return registration;
}

}  // namespace md
