// Integer sigmoid and tanh exactly as TFLM computes them, shared by LOGISTIC,
// TANH and UNIDIRECTIONAL_SEQUENCE_LSTM:
//  - int8 kernels: gemmlowp-style Q-format fixed point on int32 raws
//    (TFLM micro/kernels/internal/fixedpoint.h: exp_on_negative_values,
//    logistic, tanh with Newton-Raphson division);
//  - int16 kernels: the 256-entry sigmoid table with linear interpolation
//    (reference/integer_ops/logistic.h and tanh.h).
// Raw values are plain int32_t; the number of integer bits of a Q format is a
// template parameter. Adds and negations wrap (two's complement) instead of
// overflowing, matching what TFLM's builds do on the targets we compare with.
#ifndef MD_KERNELS_SIGMOID_TANH_COMMON_H_
#define MD_KERNELS_SIGMOID_TANH_COMMON_H_

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/exp_common.h"
#include "md/quant.h"

namespace md {
namespace fixedpoint {

inline int32_t WrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t WrapSub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}
inline int32_t WrapNeg(int32_t a) { return static_cast<int32_t>(0u - static_cast<uint32_t>(a)); }

// gemmlowp SaturatingRoundingMultiplyByPOT<Exponent> on an int32 raw.
template <int Exponent>
inline int32_t SaturatingRoundingMultiplyByPOT(int32_t x) {
  if constexpr (Exponent == 0) {
    return x;
  } else if constexpr (Exponent < 0) {
    return RoundingDivideByPOT(x, -Exponent);
  } else {
    constexpr int32_t kThreshold = (1 << (31 - Exponent)) - 1;
    if (x > kThreshold) return std::numeric_limits<int32_t>::max();
    if (x < -kThreshold) return std::numeric_limits<int32_t>::min();
    return static_cast<int32_t>(static_cast<int64_t>(x) * (int64_t{1} << Exponent));
  }
}

// (a + b) / 2 rounded away from zero (gemmlowp RoundingHalfSum, int32).
inline int32_t RoundingHalfSum(int32_t a, int32_t b) {
  const int64_t sum = static_cast<int64_t>(a) + static_cast<int64_t>(b);
  const int64_t sign = sum >= 0 ? 1 : -1;
  return static_cast<int32_t>((sum + sign) / 2);
}

// Fixed-point product: integer bits add up, raw is SRDHM of the raws.
inline int32_t Mul(int32_t a, int32_t b) { return SaturatingRoundingDoublingHighMul(a, b); }

constexpr int32_t kOneQ0 = std::numeric_limits<int32_t>::max();  // 1.0 in Q0.31 (saturated)
constexpr int32_t kOneQ2 = 1 << 29;                              // 1.0 in Q2.29

// exp(a) for a in [-1/4, 0), Q0.31 in and out.
inline int32_t ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(int32_t a) {
  constexpr int32_t kConstantTerm = 1895147668;   // exp(-1/8)
  constexpr int32_t kConstant1Over3 = 715827883;  // 1/3
  const int32_t x = WrapAdd(a, 1 << 28);          // a + 1/8
  const int32_t x2 = Mul(x, x);
  const int32_t x3 = Mul(x2, x);
  const int32_t x4 = Mul(x2, x2);
  const int32_t x4_over_4 = SaturatingRoundingMultiplyByPOT<-2>(x4);
  const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = SaturatingRoundingMultiplyByPOT<-1>(
      WrapAdd(Mul(WrapAdd(x4_over_4, x3), kConstant1Over3), x2));
  return WrapAdd(kConstantTerm,
                 Mul(kConstantTerm, WrapAdd(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

// exp(a) for a <= 0 given in Q(IntegerBits).(31-IntegerBits); result Q0.31.
template <int IntegerBits>
inline int32_t ExpOnNegativeValues(int32_t a) {
  constexpr int kFractionalBits = 31 - IntegerBits;
  constexpr int32_t kOneQuarter = 1 << (kFractionalBits - 2);
  constexpr int32_t kMask = kOneQuarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = WrapSub(a & kMask, kOneQuarter);
  int32_t result = ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(
      SaturatingRoundingMultiplyByPOT<IntegerBits>(a_mod_quarter_minus_one_quarter));
  const int32_t remainder = WrapSub(a_mod_quarter_minus_one_quarter, a);

  // Barrel shifter: multiply by exp(-2^k) for each set bit k of the remainder.
  auto barrel = [&](int exponent, int32_t multiplier) {
    if (IntegerBits > exponent) {
      const int shift = kFractionalBits + exponent;
      if (remainder & (int32_t{1} << shift)) result = Mul(result, multiplier);
    }
  };
  barrel(-2, 1672461947);
  barrel(-1, 1302514674);
  barrel(+0, 790015084);
  barrel(+1, 290630308);
  barrel(+2, 39332535);
  barrel(+3, 720401);
  barrel(+4, 242);

  if constexpr (IntegerBits > 5) {
    constexpr int32_t kClamp = -(1 << (36 - IntegerBits));  // -32.0
    if (a < kClamp) result = 0;
  }
  if (a == 0) result = kOneQ0;
  return result;
}

// 1 / (1 + x) for x in (0, 1), Q0.31 in and out (Newton-Raphson division).
inline int32_t OneOverOnePlusXForXIn01(int32_t a) {
  const int32_t half_denominator = RoundingHalfSum(a, kOneQ0);
  constexpr int32_t kConstant48Over17 = 1515870810;      // Q2.29
  constexpr int32_t kConstantNeg32Over17 = -1010580540;  // Q2.29
  int32_t x = WrapAdd(kConstant48Over17, Mul(half_denominator, kConstantNeg32Over17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = Mul(half_denominator, x);
    const int32_t one_minus_half_denominator_times_x = WrapSub(kOneQ2, half_denominator_times_x);
    x = WrapAdd(x, SaturatingRoundingMultiplyByPOT<2>(Mul(x, one_minus_half_denominator_times_x)));
  }
  return SaturatingRoundingMultiplyByPOT<1>(x);  // x/2 as Q1.30, rescaled to Q0.31
}

// (1 - x) / (1 + x) for x in (0, 1), Q0.31 in and out.
inline int32_t OneMinusXOverOnePlusXForXIn01(int32_t a) {
  const int32_t half_denominator = RoundingHalfSum(a, kOneQ0);
  constexpr int32_t kConstant48Over17 = 1515870810;
  constexpr int32_t kConstantNeg32Over17 = -1010580540;
  int32_t x = WrapAdd(kConstant48Over17, Mul(half_denominator, kConstantNeg32Over17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = Mul(half_denominator, x);
    const int32_t one_minus_half_denominator_times_x = WrapSub(kOneQ2, half_denominator_times_x);
    x = WrapAdd(x, SaturatingRoundingMultiplyByPOT<2>(Mul(x, one_minus_half_denominator_times_x)));
  }
  return SaturatingRoundingMultiplyByPOT<2>(WrapSub(x, kOneQ2));
}

// logistic(a) with a in Q(IntegerBits); result Q0.31.
template <int IntegerBits>
inline int32_t Logistic(int32_t a) {
  const int32_t abs_input = a > 0 ? a : WrapNeg(a);
  const int32_t result_if_positive =
      OneOverOnePlusXForXIn01(ExpOnNegativeValues<IntegerBits>(WrapNeg(abs_input)));
  const int32_t result_if_negative = WrapSub(kOneQ0, result_if_positive);
  if (a == 0) return 1 << 30;  // 0.5
  return a > 0 ? result_if_positive : result_if_negative;
}

// tanh(a) with a in Q(IntegerBits); result Q0.31.
template <int IntegerBits>
inline int32_t Tanh(int32_t a) {
  const int32_t n = a < 0 ? a : WrapNeg(a);  // -|a|
  // -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)); 2n is n with one more integer bit.
  const int32_t t = OneMinusXOverOnePlusXForXIn01(ExpOnNegativeValues<IntegerBits + 1>(n));
  if (a == 0) return 0;
  return a < 0 ? WrapNeg(t) : t;
}

}  // namespace fixedpoint

// Single-precision tanh rounded exactly like glibc's tanhf (the fdlibm
// algorithm: tanh from expm1 of 2|x|, expm1 by argument reduction with
// ln2_hi/ln2_lo and a degree-5 rational correction, all in float). TFLM calls
// tanhf and runs on glibc; newlib builds of the same algorithm round some
// inputs differently on Cortex-M (fused multiply-adds), so targets use this
// port. Checked against glibc over every float by tests/kernels/test_tanh.py.
// Compiled without fused multiply-adds whatever the includer's options.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
namespace tanh_detail {

inline uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// e^x - 1 (fdlibm expm1f) for finite x; tanh only needs |x| < 44.
inline float Expm1(float x) {
  constexpr float kOne = 1.0f;
  constexpr float kHuge = 1.0e+30f;
  constexpr float kTiny = 1.0e-30f;
  constexpr float kLn2Hi = 6.9313812256e-01f;   // 0x3f317180
  constexpr float kLn2Lo = 9.0580006145e-06f;   // 0x3717f7d1
  constexpr float kInvLn2 = 1.4426950216e+00f;  // 0x3fb8aa3b
  constexpr float kQ1 = -3.3333335072e-02f;     // 0xbd088889
  constexpr float kQ2 = 1.5873016091e-03f;      // 0x3ad00d01
  constexpr float kQ3 = -7.9365076090e-05f;     // 0xb8a670cd
  constexpr float kQ4 = 4.0082177293e-06f;      // 0x36867e54
  constexpr float kQ5 = -2.0109921195e-07f;     // 0xb457edbb
  uint32_t hx = Bits(x);
  const bool negative = (hx & 0x80000000u) != 0;
  hx &= 0x7fffffffu;
  if (hx >= 0x4195b844u && negative) return kTiny - kOne;  // x < -27 ln2: -1
  float hi;
  float lo;
  float c = 0.0f;
  int32_t k;
  if (hx > 0x3eb17218u) {    // |x| > ln2 / 2: reduce by k ln2
    if (hx < 0x3F851592u) {  // and < 1.5 ln2
      if (!negative) {
        hi = x - kLn2Hi;
        lo = kLn2Lo;
        k = 1;
      } else {
        hi = x + kLn2Hi;
        lo = -kLn2Lo;
        k = -1;
      }
    } else {
      k = static_cast<int32_t>(kInvLn2 * x + (negative ? -0.5f : 0.5f));
      const float t = static_cast<float>(k);
      hi = x - t * kLn2Hi;  // exact
      lo = t * kLn2Lo;
    }
    x = hi - lo;
    c = (hi - x) - lo;
  } else if (hx < 0x33000000u) {  // |x| < 2^-25: x
    const float t = kHuge + x;
    return x - (t - (kHuge + x));
  } else {
    k = 0;
  }
  const float hfx = 0.5f * x;
  const float hxs = x * hfx;
  const float r1 = kOne + hxs * (kQ1 + hxs * (kQ2 + hxs * (kQ3 + hxs * (kQ4 + hxs * kQ5))));
  float t = 3.0f - r1 * hfx;
  float e = hxs * ((r1 - t) / (6.0f - x * t));
  if (k == 0) return x - (x * e - hxs);
  e = (x * (e - c) - c);
  e -= hxs;
  if (k == -1) return 0.5f * (x - e) - 0.5f;
  if (k == 1) {
    if (x < -0.25f) return -2.0f * (e - (x + 0.5f));
    return kOne + 2.0f * (x - e);
  }
  float y;
  if (k <= -2 || k > 56) {  // exp(x) - 1 is exp(x) to float precision
    y = kOne - (e - x);
    y = FromBits(Bits(y) + (static_cast<uint32_t>(k) << 23));
    return y - kOne;
  }
  if (k < 23) {
    t = FromBits(0x3f800000u - (0x1000000u >> k));  // 1 - 2^-k
    y = t - (e - x);
    y = FromBits(Bits(y) + (static_cast<uint32_t>(k) << 23));
  } else {
    t = FromBits(static_cast<uint32_t>(0x7f - k) << 23);  // 2^-k
    y = x - (e + t);
    y += kOne;
    y = FromBits(Bits(y) + (static_cast<uint32_t>(k) << 23));
  }
  return y;
}

}  // namespace tanh_detail

inline float TanhFloat(float x) {
  constexpr float kOne = 1.0f;
  constexpr float kTwo = 2.0f;
  constexpr float kTiny = 1.0e-30f;
  const uint32_t jx = tanh_detail::Bits(x);
  const uint32_t ix = jx & 0x7fffffffu;
  const bool negative = (jx & 0x80000000u) != 0;
  if (ix >= 0x7f800000u) {  // inf or NaN
    return negative ? kOne / x - kOne : kOne / x + kOne;
  }
  float z;
  if (ix < 0x41b00000u) {                         // |x| < 22
    if (ix == 0) return x;                        // +-0
    if (ix < 0x24000000u) return x * (kOne + x);  // |x| < 2^-55
    if (ix >= 0x3f800000u) {                      // |x| >= 1
      const float t = tanh_detail::Expm1(kTwo * std::fabs(x));
      z = kOne - kTwo / (t + kTwo);
    } else {
      const float t = tanh_detail::Expm1(-kTwo * std::fabs(x));
      z = -t / (t + kTwo);
    }
  } else {  // |x| >= 22: +-1
    z = kOne - kTiny;
  }
  return negative ? -z : z;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// tanh as the TFLM we compare with computes it: glibc's tanhf on the host,
// the port above elsewhere.
inline float TanhLikeTflm(float x) {
#if defined(__GLIBC__)
  return std::tanh(x);
#else
  return TanhFloat(x);
#endif
}

// Float logistic as TFLM's reference_ops::Logistic: exact 1 above the upper
// cut-off, exp(x) below the lower one, 1 / (1 + exp(-x)) in between. e^x is
// glibc's expf on every target (exp_common.h); includers keep fp-contract off.
inline float LogisticFloat(float val) {
  const float cutoff_upper = 16.619047164916992188f;
  const float cutoff_lower = -9.f;
  if (val > cutoff_upper) return 1.0f;
  if (val < cutoff_lower) return ExpLikeTflm(val);
  return 1.f / (1.f + ExpLikeTflm(-val));
}

namespace lut {

// sigmoid(i/24) in 0.16 format for i in [0, 255]; tanh(x) = 2*sigmoid(2x) - 1.
// The values are TFLM's sigmoid_table_uint16 (reference/integer_ops/common.h).
inline const uint16_t* SigmoidTable() {
  static const uint16_t kTable[256] = {
      32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
      41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
      48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
      54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
      58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
      61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
      63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
      64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
      64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
      65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
      65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
      65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
      65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
      65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
      65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
      65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
      65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
      65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
      65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
      65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};
  return kTable;
}

// Rescaling of an int16 input to the sigmoid table's 1/(3*4096) scale, as
// both int16 reference kernels do it: `multiplier == 0` selects the
// power-of-two path (multiplier 3 << left_shift, no shift); otherwise the
// input is multiplied by `multiplier` and shifted right by `left_shift` with
// rounding.
struct Int16TableInput {
  Int16TableInput(int32_t input_multiplier, int32_t input_left_shift) {
    if (input_multiplier == 0) {  // power-of-two scale
      input_multiplier = 3 << input_left_shift;
      input_left_shift = 0;
    }
    multiplier = input_multiplier;
    left_shift = input_left_shift;
    round = input_left_shift > 0 ? 1 << (input_left_shift - 1) : 0;
  }
  int32_t Rescale(int16_t x) const { return (x * multiplier + round) >> left_shift; }

  int32_t multiplier;
  int32_t left_shift;
  int32_t round;
};

// int16 logistic (reference_integer_ops::Logistic, int16 overload). Output is
// Q0.15 in [0, 1). `input_multiplier == 0` selects the power-of-two scale
// path with `input_left_shift` in {0}; otherwise the input is rescaled by
// input_multiplier / 2^input_left_shift to the table's 1/(3*4096) scale.
inline void LogisticInt16(int32_t input_multiplier, int32_t input_left_shift, int32_t n,
                          const int16_t* input, int16_t* output) {
  const Int16TableInput scaled(input_multiplier, input_left_shift);
  const uint16_t* table = SigmoidTable();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t input_data = scaled.Rescale(input[i]);
    const uint32_t abs_input_data = static_cast<uint32_t>(std::abs(input_data));
    const uint32_t uh = abs_input_data >> 9;
    uint32_t result;
    if (uh >= 255) {
      result = 0x7FFFu << 10;
    } else {
      const uint32_t ua = table[uh];
      const uint32_t ub = table[uh + 1];
      const uint32_t ut = abs_input_data & 0x1ff;
      result = (ua << 9) + ut * (ub - ua);
    }
    result = input_data >= 0 ? (result + (1u << 9)) : ((1u << (16 + 9)) - result + (1u << 9) - 1);
    result >>= 10;
    output[i] = static_cast<int16_t>(result);
  }
}

// int16 tanh (reference_integer_ops::Tanh, int16 overload). Output Q0.15.
inline void TanhInt16(int32_t input_multiplier, int32_t input_left_shift, int32_t n,
                      const int16_t* input, int16_t* output) {
  const Int16TableInput scaled(input_multiplier, input_left_shift);
  const uint16_t* table = SigmoidTable();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t input_data = scaled.Rescale(input[i]);
    const uint32_t abs_input_data = static_cast<uint32_t>(std::abs(input_data));
    const uint32_t uh = abs_input_data >> 8;
    int32_t result;
    if (uh >= 255) {
      result = 0xFFFF << 8;
    } else {
      const uint32_t ua = table[uh];
      const uint32_t ub = table[uh + 1];
      const uint8_t ut = static_cast<uint8_t>(abs_input_data & 0xFF);
      result = static_cast<int32_t>((ua << 8) + ut * (ub - ua));
    }
    result = input_data >= 0 ? (result - (1 << (14 + 9)) + (1 << (9 - 2)))
                             : (-result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1);
    result >>= (9 - 1);
    output[i] = static_cast<int16_t>(result);
  }
}

// Input rescaling of the int8 LOGISTIC/TANH kernels (TFLM prepare): the input
// (minus its zero point) is mapped to Q4.27 by multiplier * 2^left_shift and
// saturates beyond +-range_radius.
struct Int8InputRescale {
  int32_t multiplier;
  int left_shift;
  int32_t range_radius;
};

inline Int8InputRescale ComputeInt8InputRescale(float input_scale) {
  constexpr int kInputIntegerBits = 4;
  Int8InputRescale p;
  const double input_real_multiplier =
      static_cast<double>(input_scale) * static_cast<double>(1 << (31 - kInputIntegerBits));
  const double q = std::frexp(input_real_multiplier, &p.left_shift);
  p.multiplier = static_cast<int32_t>(std::round(q * (1LL << 31)));
  if (p.left_shift < 0 || p.left_shift > 31) {  // rejected in prepare
    p.range_radius = 0;
    return p;
  }
  // tflite::CalculateInputRadius(kInputIntegerBits, left_shift, 31).
  const double max_input_rescaled = 1.0 * ((1 << kInputIntegerBits) - 1) *
                                    (1LL << (31 - kInputIntegerBits)) / (1LL << p.left_shift);
  p.range_radius = static_cast<int32_t>(std::floor(max_input_rescaled));
  return p;
}

// Input rescaling of the int16 LOGISTIC/TANH kernels (TFLM prepare). A
// power-of-two input scale whose shift is in [0, max_pot_shift] gives
// multiplier 0 (exact shift path); other scales get a multiplier <= 32767 to
// the table's 1/(3*4096) scale. LOGISTIC allows shift 0, TANH 0 and 1.
struct Int16InputRescale {
  int32_t multiplier;
  int32_t left_shift;
};

constexpr double kMaxInt16RescaleMultiplier = 65535.0;  // |x| <= 32768: x * m inside int32
constexpr int32_t kInvalidInt16Rescale = -1;

inline Int16InputRescale ComputeInt16InputRescale(float input_scale, int max_pot_shift) {
  constexpr int kInputIntegerBits = 3;
  Int16InputRescale p;
  int x_log2_rounded = 0;
  bool param_scale_pot = elementwise::CheckedLog2(input_scale, &x_log2_rounded);
  p.left_shift = (15 - kInputIntegerBits) + x_log2_rounded;
  param_scale_pot &= (p.left_shift >= 0 && p.left_shift <= max_pot_shift);
  if (param_scale_pot) {
    p.multiplier = 0;
  } else {
    double multiplier = static_cast<double>(input_scale) * 4096.0 * 3.0;
    p.left_shift = 0;
    while (multiplier <= 32767.0 / 2.0 && p.left_shift <= 30) {
      p.left_shift++;
      multiplier = multiplier * 2.0;
    }
    // Scales too small (multiplier below 1 after 31 doublings) or too large (x * multiplier
    // past int32) have no usable rescale: kInvalidInt16Rescale, which prepare rejects.
    p.multiplier = multiplier >= 1.0 && multiplier <= kMaxInt16RescaleMultiplier
                       ? static_cast<int32_t>(multiplier)
                       : kInvalidInt16Rescale;
  }
  return p;
}

// Which int8 output zero point the kernel's prepare insists on: LOGISTIC
// requires -128 (as TFLM does); TANH assumes 0 without checking, like TFLM.
enum class Int8OutputZeroPointCheck { kNone, kMustBeMinus128 };

// Prepare shared by LOGISTIC and TANH: one input and one output of the same
// type and element count; int8 needs a usable input scale, int16 zero points 0
// and output scale 2^-15; float32 needs nothing more.
inline Status PrepareSigmoidOrTanh(OpContext& ctx, Int8OutputZeroPointCheck zero_point_check) {
  if (ctx.NumInputs() != 1 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 1 input and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const Status present = elementwise::RequireInputs(ctx, 0, 1);
  if (present != Status::kOk) return present;
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  if (in.type != out.type) {
    return ctx.Fail(Status::kUnsupportedType, "input type %s differs from output type %s",
                    DataTypeName(in.type), DataTypeName(out.type));
  }
  if (in.FlatSize() != out.FlatSize()) {
    return ctx.Fail(Status::kShapeMismatch, "input has %d elements, output %d",
                    static_cast<int>(in.FlatSize()), static_cast<int>(out.FlatSize()));
  }
  if (in.type == DataType::kInt8) {
    if (zero_point_check == Int8OutputZeroPointCheck::kMustBeMinus128 && out.zero_point != -128) {
      return ctx.Fail(Status::kUnsupportedType, "int8 output zero point must be -128, got %d",
                      static_cast<int>(out.zero_point));
    }
    if (in.scale <= 0.0f) {
      return ctx.Fail(Status::kUnsupportedType, "int8 input has no quantization scale");
    }
    const Int8InputRescale p = ComputeInt8InputRescale(in.scale);
    if (p.left_shift < 0 || p.left_shift > 31) {
      return ctx.Fail(Status::kUnsupportedType, "input scale %g out of range",
                      static_cast<double>(in.scale));
    }
  } else if (in.type == DataType::kInt16) {
    if (in.zero_point != 0 || out.zero_point != 0) {
      return ctx.Fail(Status::kUnsupportedType, "int16 zero points must be 0, got %d/%d",
                      static_cast<int>(in.zero_point), static_cast<int>(out.zero_point));
    }
    int out_log2;
    if (!elementwise::CheckedLog2(out.scale, &out_log2) || out_log2 != -15) {
      return ctx.Fail(Status::kUnsupportedType, "int16 output scale must be 2^-15, got %g",
                      static_cast<double>(out.scale));
    }
    if (in.scale <= 0.0f) {
      return ctx.Fail(Status::kUnsupportedType, "int16 input has no quantization scale");
    }
    if (ComputeInt16InputRescale(in.scale, 1).multiplier == kInvalidInt16Rescale) {
      return ctx.Fail(Status::kUnsupportedType, "int16 input scale %g out of range",
                      static_cast<double>(in.scale));
    }
  } else if (in.type != DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType, "type %s not supported (int8, int16, float32)",
                    DataTypeName(in.type));
  }
  return Status::kOk;
}

}  // namespace lut
}  // namespace md

#endif  // MD_KERNELS_SIGMOID_TANH_COMMON_H_
