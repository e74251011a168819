// TFLite's exact integer arithmetic for quantized kernels (the same rounding
// as tensorflow/lite/kernels/internal/common.h and quantization_util.cc with
// the default double-rounding mode), so results are bit-exact with TFLM.
// Header-only, pure functions, no runtime dependency.
#ifndef MD_QUANT_H_
#define MD_QUANT_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "md/types.h"

namespace md {

// a + b with two's-complement wrap-around: what TFLM's builds give when a
// hostile model's weights or biases overflow an accumulator (undefined
// behaviour in C++, and in TFLM's source).
template <typename T>
inline T WrappingAdd(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}

// static_cast<int32_t>(x) for a float that may be NaN or out of range (hostile
// scales or inputs): C++ leaves that undefined; this returns INT32_MIN there,
// as x86's cvttss2si does, which is what TFLM's reference builds compute.
inline int32_t FloatToInt32LikeX86(float x) {
  if (!(x >= -2147483648.0f && x < 2147483648.0f)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(x);
}

inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t high = static_cast<int32_t>((ab + nudge) / (1LL << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  // Hostile scales can ask for shifts C++ does not define; every bit of x is
  // then shifted out (or none is).
  if (exponent <= 0) return x;
  if (exponent > 31) return 0;
  const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
  return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

// x * quantized_multiplier * 2^shift with TFLite's double rounding.
// x * 2^shift with two's-complement wrap-around, the result TFLM's builds
// produce for `x * (1 << shift)` (signed overflow there, well-defined here).
inline int32_t WrappingShiftLeft(int32_t x, int shift) {
  if (shift <= 0) return x;
  if (shift > 31) return 0;  // all bits shifted out (hostile scales), not undefined
  return static_cast<int32_t>(static_cast<uint32_t>(x) << shift);
}

inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return RoundingDivideByPOT(
      SaturatingRoundingDoublingHighMul(WrappingShiftLeft(x, left_shift), quantized_multiplier),
      right_shift);
}

inline int32_t MultiplyByQuantizedMultiplierSmallerThanOneExp(int32_t x,
                                                              int32_t quantized_multiplier,
                                                              int left_shift) {
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, quantized_multiplier),
                             -left_shift);
}

inline int32_t MultiplyByQuantizedMultiplierGreaterThanOne(int32_t x, int32_t quantized_multiplier,
                                                           int left_shift) {
  return SaturatingRoundingDoublingHighMul(WrappingShiftLeft(x, left_shift), quantized_multiplier);
}

// 64-bit input variant (int16 conv/FC accumulators in TFLite). Matches
// tflite::MultiplyByQuantizedMultiplier(int64_t, int32_t, int) in the default
// (double-rounding) build: the multiplier is first reduced to 16 bits with
// rounding, then one rounding shift; no saturation (the inputs are bounded).
inline int32_t MultiplyByQuantizedMultiplier(int64_t x, int32_t quantized_multiplier, int shift) {
  const int32_t reduced_multiplier =
      (quantized_multiplier < 0x7FFF0000) ? ((quantized_multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int total_shift = 15 - shift;
  // Multipliers this large or small only come from hostile scales; keep the
  // shifts defined (TFLM's are undefined behaviour there).
  if (total_shift <= 0 || total_shift > 62) return 0;
  // Wrapping product and sum: equal to the plain int64 arithmetic whenever
  // that does not overflow (any real model), defined when it would.
  const int64_t rounded = static_cast<int64_t>(
      static_cast<uint64_t>(x) * static_cast<uint64_t>(static_cast<int64_t>(reduced_multiplier)) +
      (static_cast<uint64_t>(1) << (total_shift - 1)));
  return static_cast<int32_t>(rounded >> total_shift);
}

// tflite::QuantizeMultiplier: double -> Q31 multiplier and power-of-two shift.
inline void QuantizeMultiplier(double double_multiplier, int32_t* quantized_multiplier,
                               int* shift) {
  if (double_multiplier == 0.) {
    *quantized_multiplier = 0;
    *shift = 0;
    return;
  }
  const double q = std::frexp(double_multiplier, shift);
  int64_t q_fixed = static_cast<int64_t>(std::round(q * (1LL << 31)));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q_fixed = 0;
  }
  *quantized_multiplier = static_cast<int32_t>(q_fixed);
}

// Clamp range of a fused activation for a quantized output.
inline void CalculateActivationRangeQuantized(FusedActivation act, float scale, int32_t zero_point,
                                              int32_t qmin, int32_t qmax, int32_t* act_min,
                                              int32_t* act_max) {
  auto quantize = [&](float f) {
    return WrappingAdd(zero_point, FloatToInt32LikeX86(std::round(f / scale)));
  };
  int32_t lo = qmin;
  int32_t hi = qmax;
  if (act == FusedActivation::kRelu) {
    const int32_t t = quantize(0.0f);
    lo = t > qmin ? t : qmin;
  } else if (act == FusedActivation::kRelu6) {
    const int32_t t0 = quantize(0.0f);
    const int32_t t6 = quantize(6.0f);
    lo = t0 > qmin ? t0 : qmin;
    hi = t6 < qmax ? t6 : qmax;
  } else if (act == FusedActivation::kReluN1To1) {
    const int32_t tn = quantize(-1.0f);
    const int32_t tp = quantize(1.0f);
    lo = tn > qmin ? tn : qmin;
    hi = tp < qmax ? tp : qmax;
  }
  *act_min = lo;
  *act_max = hi;
}

// Float clamp range of a fused activation, as tflite::CalculateActivationRange:
// "no activation" clamps to [lowest, max] (so +-inf become +-FLT_MAX).
inline void CalculateActivationRangeFloat(FusedActivation act, float* act_min, float* act_max) {
  *act_min = std::numeric_limits<float>::lowest();
  *act_max = std::numeric_limits<float>::max();
  if (act == FusedActivation::kRelu) {
    *act_min = 0.0f;
  } else if (act == FusedActivation::kRelu6) {
    *act_min = 0.0f;
    *act_max = 6.0f;
  } else if (act == FusedActivation::kReluN1To1) {
    *act_min = -1.0f;
    *act_max = 1.0f;
  }
}

}  // namespace md

#endif  // MD_QUANT_H_
