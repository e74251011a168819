// Building blocks of the optimized int8 paths of CONV_2D, DEPTHWISE_CONV_2D
// and FULLY_CONNECTED: exact integer dot products (a portable version the
// compiler vectorizes, and a Cortex-M DSP-extension version built on SXTB16 +
// SMLAD, as CMSIS-NN does) and a requantization step equal to
// MultiplyByQuantizedMultiplier but cheaper.
//
// Selection, at compile time (the board definition's `kernels` field sets the macros):
//   MD_KERNELS_REFERENCE defined -> the reference kernels only (MD_KERNELS_OPTIMIZED is 0);
//   otherwise the optimized paths, with the DSP version when the compiler targets a core
//   with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33 with -mcpu=...) and the
//   SSE2 version (int8_sse2.h) on x86 hosts, unless MD_KERNELS_PORTABLE is defined (then the
//   plain C++ version the compiler vectorizes).
//
// Bit-exactness: every accumulator is a sum of exact integer products, so the order of
// the additions does not matter; sums are kept in uint32_t, i.e. modulo 2^32, which is what
// TFLM's int32 accumulators give even when a hostile model overflows them.
#ifndef MD_KERNELS_INT8_OPT_H_
#define MD_KERNELS_INT8_OPT_H_

#include <cstdint>
#include <cstring>

#include "md/kernels/conv_common.h"
#include "md/quant.h"
#include "md/tensor.h"

#if defined(MD_KERNELS_REFERENCE)
#define MD_KERNELS_OPTIMIZED 0
#else
#define MD_KERNELS_OPTIMIZED 1
#endif

#if MD_KERNELS_OPTIMIZED && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && \
    !defined(MD_KERNELS_PORTABLE)
#define MD_KERNELS_ARM_DSP 1
#include <arm_acle.h>
#else
#define MD_KERNELS_ARM_DSP 0
#endif

// x86 hosts (SSE2 is part of x86-64): int8_sse2.h's PMADDWD paths, unless
// MD_KERNELS_PORTABLE asks for the plain C++ ones (the host runner's "portable" flavour).
#if MD_KERNELS_OPTIMIZED && defined(__SSE2__) && !defined(MD_KERNELS_PORTABLE)
#define MD_KERNELS_SSE2 1
#else
#define MD_KERNELS_SSE2 0
#endif

namespace md {
namespace opt {

// One output channel's requantization, split for the fast form below. No default member
// initializers: kernels declare arrays of kChannelChunk of these per invoke (per band in a
// patch-based stage) and fill only the entries they read with MakeRequant, which sets every
// field; zero-initialising them cost a 768-byte memset per op call.
struct Requant {
  int32_t multiplier;
  int32_t left_shift;   // 0..31 (a larger one shifts every bit out: multiplier 0 instead)
  int32_t right_shift;  // 0..31 (QuantizeMultiplier zeroes shifts below -31)
  uint32_t round_mask;  // 2^right_shift - 1
  uint32_t round_half;  // 2^(right_shift - 1), 0 for no right shift
  uint32_t round_neg;   // 1 when there is a right shift (negative values round down)
};

inline Requant MakeRequant(int32_t multiplier, int shift) {
  Requant q{};
  q.multiplier = multiplier;
  q.left_shift = shift > 0 ? shift : 0;
  if (q.left_shift > 31) q.left_shift = 0, q.multiplier = 0;  // x << 32.. is 0, so is x * 0
  q.right_shift = shift > 0 ? 0 : (shift < -31 ? 31 : -shift);
  q.round_mask = static_cast<uint32_t>((static_cast<uint64_t>(1) << q.right_shift) - 1);
  q.round_half = q.right_shift > 0 ? static_cast<uint32_t>(1) << (q.right_shift - 1) : 0;
  q.round_neg = q.right_shift > 0 ? 1 : 0;
  return q;
}

// MultiplyByQuantizedMultiplier(acc, multiplier, shift) for multiplier >= 0 (kernels take
// the optimized path only when every scale is > 0, which gives such multipliers).
// SaturatingRoundingDoublingHighMul is trunc((ab + nudge) / 2^31) with nudge = 2^30 for
// ab >= 0 and 1 - 2^30 for ab < 0; both cases equal floor((ab + 2^30) / 2^31) (for ab < 0:
// trunc(y / 2^31) = ceil(y / 2^31) = floor((y + 2^31 - 1) / 2^31)): one multiply-accumulate
// and a shift. It saturates only for a == b == INT32_MIN, impossible with multiplier >= 0.
// RoundingDivideByPOT(x, e) is floor(x / 2^e) + [rem > 2^(e-1) - 1 + (x < 0)] with
// rem = x mod 2^e, and that bracket is (rem + 2^(e-1) - (x < 0)) >> e (for e >= 1): no
// compares, no overflow. multiplier_check.cc compares both with quant.h's functions.
inline int32_t ApplyRequant(const Requant& q, int32_t acc) {
  const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc) << q.left_shift);
  const int64_t p = static_cast<int64_t>(x) * static_cast<int64_t>(q.multiplier) +
                    (static_cast<int64_t>(1) << 30);
  const int32_t high = static_cast<int32_t>(p >> 31);
  const uint32_t u = static_cast<uint32_t>(high);
  const uint32_t round =
      ((u & q.round_mask) + q.round_half - ((u >> 31) & q.round_neg)) >> q.right_shift;
  return (high >> q.right_shift) + static_cast<int32_t>(round);
}

// ---------------------------------------------------------------------------------------
// ChannelOutputMultiplier without floating point (ChannelMultiplierMaker below).

// Significand (bit 23 set) and exponent of a positive finite float: f = sig * 2^exp.
inline bool SplitFloat(float f, uint32_t* sig, int32_t* exp) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const int32_t biased = static_cast<int32_t>((bits >> 23) & 0xFF);
  uint32_t mantissa = bits & 0x7FFFFF;
  if ((bits >> 31) != 0 || biased == 0xFF || (biased == 0 && mantissa == 0)) return false;
  int32_t e = biased == 0 ? -149 : biased - 150;
  if (biased != 0) {
    mantissa |= 0x800000;
  } else {
    while ((mantissa & 0x800000) == 0) mantissa <<= 1, --e;  // subnormal
  }
  *sig = mantissa;
  *exp = e;
  return true;
}

// Leading zeros of a nonzero word (CLZ).
inline int32_t CountLeadingZeros(uint32_t v) {
#if defined(__GNUC__)
  return __builtin_clz(v);
#else
  int32_t n = 0;
  while ((v & 0x80000000u) == 0) v <<= 1, ++n;
  return n;
#endif
}

// QuantizeMultiplier(d) for d = (quotient + f) 2^exponent, the double of a division:
// quotient in [2^54, 2^57), f in [0, 1) (the remainder's share). The double rounds that value
// to 53 bits (to nearest, ties to even), then std::round(q 2^31) rounds its significand q to 31
// bits (half away from zero). With the quotient shifted up by k to exactly 57 bits (k = 0..2),
// top = its bits 56..26 and low = bits 25..0, the 53-bit significand is
// top 2^22 + (low >> 4) + r (r the 53-bit rounding), and the 31-bit result is top + 1 exactly
// when (low >> 4) + r reaches 2^21: always for low >= 2^25, never for low < 2^25 - 16, and for
// low >> 4 = 2^21 - 1 (odd, so a tie rounds up whatever f is) when low & 15 >= 8. So it is
// top + [low >= 2^25 - 8], and f never matters. A result of 2^31 (also a 53-bit rounding up
// to 2^53) is 2^30 with one more in the exponent. multiplier_check.cc compares it with the
// long double form, f included.
inline void RoundQuotientToMultiplier(uint64_t quotient, int32_t exponent, int32_t* multiplier,
                                      int* shift) {
  const uint32_t q_lo = static_cast<uint32_t>(quotient);
  const uint32_t q_hi = static_cast<uint32_t>(quotient >> 32);  // in [2^22, 2^25)
  const int32_t k = CountLeadingZeros(q_hi) - 7;
  const uint32_t top = (q_hi << (6 + k)) | (q_lo >> (26 - k));
  const uint32_t low = (q_lo << k) & 0x3FFFFFFu;
  uint32_t fixed = top + (low >= (1u << 25) - 8u ? 1u : 0u);
  // frexp's exponent: the value is (quotient 2^k) 2^(exponent - k), quotient 2^k of 57 bits.
  int32_t e = exponent + 57 - k;
  if (fixed == (1u << 31)) fixed = 1u << 30, ++e;
  if (e < -31) e = 0, fixed = 0;
  *multiplier = static_cast<int32_t>(fixed);
  *shift = static_cast<int>(e);
}

// floor((2^87 - 1) / den) for den in [2^23, 2^24): a 64-bit reciprocal, by long division in
// digits of up to 8 bits (each partial remainder, shifted by 8, fits in 32 bits, so every step
// is one 32-bit UDIV; libgcc's 64-bit division is a slow loop). Once per op.
inline uint64_t Reciprocal87(uint32_t den) {
  uint64_t q = 0;
  uint32_t r = 0;
  for (int32_t bits = 87; bits > 0;) {
    const int32_t step = bits % 8 != 0 ? bits % 8 : 8;  // 7, then ten steps of 8
    const uint32_t cur = (r << step) | ((1u << step) - 1);
    const uint32_t d = cur / den;
    r = cur - d * den;
    q = (q << step) | d;
    bits -= step;
  }
  return q;
}

// ChannelOutputMultiplier out of line: ChannelMultiplierMaker::Make calls it only for scales
// that are not positive finite floats, and inlined its double arithmetic made every call save
// more registers.
__attribute__((noinline, cold)) inline void ChannelOutputMultiplierCold(
    float input_scale, float filter_scale, float output_scale, int32_t* multiplier, int* shift) {
  ChannelOutputMultiplier(input_scale, filter_scale, output_scale, multiplier, shift);
}

// The multipliers of one op's channels: the input and output scales are fixed, the filter
// scale varies. TFLM forms double(input_scale) * double(filter_scale) / double(output_scale)
// and runs QuantizeMultiplier on it; on a core without a double-precision FPU (Cortex-M4F)
// that is soft-float code of about 1,400 instructions per channel, recomputed every invoke
// (and every band of patch-based execution: kernels keep no per-channel data in the arena).
// The same result in integers: the product of the 24-bit significands sa * sb is exact (as in
// double); Q = floor(sa * sb * 2^32 / sc), 55 to 57 bits, comes from a multiplication by the
// per-op reciprocal inv = floor((2^87 - 1) / sc), which undershoots Q by at most 1
// (inv = (2^87 - 1 - rho) / sc with rho < sc, so sa * sb * inv / 2^55 is below the exact
// quotient by sa * sb * (1 + rho) / (sc * 2^55) < 2^48 / 2^55); the remainder
// sa * sb * 2^32 - Q * sc is below 2^25 and is known from the low 32 bits of Q * sc alone, so
// one compare corrects Q. Q is rounded to 53 bits to nearest-even (the double division), then
// to 31 bits half away from zero (std::round in QuantizeMultiplier): RoundQuotientToMultiplier,
// in 32-bit words. About 62 instructions per call on a Cortex-M4 with the call (72 with GCC's
// 64-bit multiplies, 125 with the rounding in 64-bit words, 325 with the long division of
// earlier versions).
// multiplier_check.cc compares it with the double form.
class ChannelMultiplierMaker {
 public:
  // needed false: the caller will not call Make (a patch-based stage's later bands read the
  // op's constants): the reciprocal, about 300 instructions on a Cortex-M4, is skipped, and
  // Make would take ChannelOutputMultiplier's double arithmetic (the same result).
  ChannelMultiplierMaker(float input_scale, float output_scale, bool needed = true)
      : input_scale_(input_scale), output_scale_(output_scale) {
    valid_ = needed && SplitFloat(input_scale, &sa_, &ea_) && SplitFloat(output_scale, &sc_, &ec_);
    if (valid_) inv_ = Reciprocal87(sc_);
    exponent_ = ea_ - ec_ - 32;
  }

  // Same multiplier and shift as ChannelOutputMultiplier (conv_common.h); falls back to it
  // for scales that are not positive finite floats.
  void Make(float filter_scale, int32_t* multiplier, int* shift) const {
    uint32_t sb;
    int32_t eb;
    if (!valid_ || !SplitFloat(filter_scale, &sb, &eb)) {
      ChannelOutputMultiplierCold(input_scale_, filter_scale, output_scale_, multiplier, shift);
      return;
    }
    const uint64_t num = static_cast<uint64_t>(sa_) * sb;  // in [2^46, 2^48)
    // q = floor(num * inv / 2^55): the 112-bit product from four 32 x 32 -> 64 products, words
    // w1 (bits 32..63), w2 and w3 (w0 is not needed: the floor drops it).
    const uint32_t nl = static_cast<uint32_t>(num), nh = static_cast<uint32_t>(num >> 32);
    const uint32_t il = static_cast<uint32_t>(inv_), ih = static_cast<uint32_t>(inv_ >> 32);
    uint32_t w1, w2, w3;
#if MD_KERNELS_ARM_DSP && defined(__OPTIMIZE__)
    // UMAAL (RdHi:RdLo = Rn * Rm + RdHi + RdLo, never overflows) adds the middle products with
    // their carries: four multiplies instead of GCC's four UMULLs and about 13 adds.
    uint32_t w0;
    __asm__(
        "umull %[w0], %[w1], %[nl], %[il]\n\t"  // w1:w0 = nl il
        "umull %[w2], %[w3], %[nh], %[il]\n\t"  // w3:w2 = nh il
        "umaal %[w1], %[w2], %[nl], %[ih]\n\t"  // w2:w1 = nl ih + lo(nh il) + hi(nl il)
        "umaal %[w2], %[w3], %[nh], %[ih]\n\t"  // w3:w2 = nh ih + hi(nh il) + that carry
        : [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [nl] "r"(nl), [nh] "r"(nh), [il] "r"(il), [ih] "r"(ih));
#else
    const uint64_t p0 = static_cast<uint64_t>(nl) * il, p1 = static_cast<uint64_t>(nl) * ih;
    const uint64_t p2 = static_cast<uint64_t>(nh) * il, p3 = static_cast<uint64_t>(nh) * ih;
    const uint64_t mid = (p0 >> 32) + static_cast<uint32_t>(p1) + static_cast<uint32_t>(p2);
    const uint64_t high = (p1 >> 32) + (p2 >> 32) + p3 + (mid >> 32);
    w1 = static_cast<uint32_t>(mid);
    w2 = static_cast<uint32_t>(high);
    w3 = static_cast<uint32_t>(high >> 32);
#endif
    uint64_t quotient =
        (static_cast<uint64_t>((w3 << 9) | (w2 >> 23)) << 32) | ((w2 << 9) | (w1 >> 23));
    // Remainder num * 2^32 - quotient * sc, in [0, 2 sc): its low 32 bits suffice.
    const uint32_t rem = 0u - static_cast<uint32_t>(quotient) * sc_;
    if (rem >= sc_) ++quotient;
    RoundQuotientToMultiplier(quotient, exponent_ + eb, multiplier, shift);
  }

 private:
  float input_scale_, output_scale_;
  bool valid_ = false;
  uint32_t sa_ = 0, sc_ = 0;
  int32_t ea_ = 0, ec_ = 0;
  int32_t exponent_ = 0;  // ea - ec - 32: the quotient's exponent less eb
  uint64_t inv_ = 0;
};

// ChannelMultiplierMaker for one channel (multiplier_check.cc tests it this way).
inline void ChannelOutputMultiplierInt(float input_scale, float filter_scale, float output_scale,
                                       int32_t* multiplier, int* shift) {
  ChannelMultiplierMaker(input_scale, output_scale).Make(filter_scale, multiplier, shift);
}

// QuantizeMultiplier (quant.h) read off the bits of the double instead of calling frexp
// and round (library calls that cost more than the division on x86; kernels recompute
// multipliers every invoke, and every band under patch-based execution). For a normal
// positive double d = sig * 2^(biased - 1075) with sig in [2^52, 2^53): frexp gives
// q = sig / 2^53 and exponent biased - 1022; q * 2^31 = sig / 2^22 exactly, and std::round
// (half away from zero) of that positive value is (sig + 2^21) >> 22. Other values
// (zero, subnormal, negative, not finite) take QuantizeMultiplier itself.
inline void QuantizeMultiplierBits(double d, int32_t* multiplier, int* shift) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  const int32_t biased = static_cast<int32_t>((bits >> 52) & 0x7FF);
  if ((bits >> 63) != 0 || biased == 0 || biased == 0x7FF) {
    QuantizeMultiplier(d, multiplier, shift);
    return;
  }
  const uint64_t sig =
      (bits & ((static_cast<uint64_t>(1) << 52) - 1)) | (static_cast<uint64_t>(1) << 52);
  int64_t fixed = static_cast<int64_t>((sig + (static_cast<uint64_t>(1) << 21)) >> 22);
  int32_t e = biased - 1022;
  if (fixed == (static_cast<int64_t>(1) << 31)) fixed /= 2, ++e;
  if (e < -31) e = 0, fixed = 0;
  *multiplier = static_cast<int32_t>(fixed);
  *shift = static_cast<int>(e);
}

// The multipliers of one op's channels, computed the cheaper way for the target: without a
// double-precision FPU (Cortex-M4F has single precision only, __ARM_FP bit 3 clear) in
// integers (ChannelMultiplierMaker: the output scale's reciprocal once per op), elsewhere the
// double product as the reference kernels form it, quantized by QuantizeMultiplierBits. All
// give the same bits (multiplier_check.cc).
class OptMultipliers {
 public:
#if defined(__arm__) && !(defined(__ARM_FP) && (__ARM_FP & 8))
  OptMultipliers(float input_scale, float output_scale, bool needed = true)
      : maker_(input_scale, output_scale, needed) {}
  void Make(float filter_scale, int32_t* multiplier, int* shift) const {
    maker_.Make(filter_scale, multiplier, shift);
  }

 private:
  ChannelMultiplierMaker maker_;
#else
  OptMultipliers(float input_scale, float output_scale, bool /*needed*/ = true)
      : input_scale_(input_scale), output_scale_(output_scale) {}
  void Make(float filter_scale, int32_t* multiplier, int* shift) const {
    const double effective = static_cast<double>(input_scale_) * static_cast<double>(filter_scale) /
                             static_cast<double>(output_scale_);
    QuantizeMultiplierBits(effective, multiplier, shift);
  }

 private:
  float input_scale_, output_scale_;
#endif
};

// One channel's multiplier by OptMultipliers (kernels with many channels keep one
// OptMultipliers per op instead: on the Cortex-M4 its constructor divides).
inline void OptChannelMultiplier(float input_scale, float filter_scale, float output_scale,
                                 int32_t* multiplier, int* shift) {
  OptMultipliers(input_scale, output_scale).Make(filter_scale, multiplier, shift);
}

// True when every filter scale is > 0 (then every multiplier is >= 0, see ApplyRequant)
// together with the input and output scales prepare checked.
inline bool ScalesArePositive(const TensorView& filter, int32_t channels) {
  if (filter.scales == nullptr || filter.num_channels <= 1) return filter.scale > 0.0f;
  for (int32_t c = 0; c < channels; ++c) {
    if (!(filter.scales[c] > 0.0f)) return false;
  }
  return true;
}

// Every realistic channel has no left shift (multiplier < 1) and a right shift >= 1: then
// ApplyRequant needs neither the shift left nor the mask of its sign term.
inline bool RequantIsSimple(const Requant& q) { return q.left_shift == 0 && q.right_shift >= 1; }

inline bool AllRequantsSimple(const Requant* q, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (!RequantIsSimple(q[i])) return false;
  }
  return true;
}

// ApplyRequant for a channel with RequantIsSimple.
inline int32_t ApplyRequantSimple(const Requant& q, int32_t acc) {
  const int64_t p = static_cast<int64_t>(acc) * static_cast<int64_t>(q.multiplier) +
                    (static_cast<int64_t>(1) << 30);
  const int32_t high = static_cast<int32_t>(p >> 31);
  const uint32_t u = static_cast<uint32_t>(high);
  const uint32_t round = ((u & q.round_mask) + q.round_half - (u >> 31)) >> q.right_shift;
  return (high >> q.right_shift) + static_cast<int32_t>(round);
}

// Requantize, add the output zero point, clamp, as every int8 kernel ends. kSimple: the
// channel passed RequantIsSimple.
template <bool kSimple = false>
inline int8_t RequantizeToInt8(const Requant& q, uint32_t acc, int32_t output_offset,
                               int32_t act_min, int32_t act_max) {
  // Wrapping add: a hostile zero point must not be undefined behaviour.
  int32_t v = static_cast<int32_t>(
      static_cast<uint32_t>(kSimple ? ApplyRequantSimple(q, static_cast<int32_t>(acc))
                                    : ApplyRequant(q, static_cast<int32_t>(acc))) +
      static_cast<uint32_t>(output_offset));
  v = v < act_min ? act_min : v;
  v = v > act_max ? act_max : v;
  return static_cast<int8_t>(v);
}

// out[i] = RequantizeToInt8(q[i], acc[i], ...) for i < n (one pixel's channels).
inline void RequantizeRow(const Requant* q, const uint32_t* acc, int32_t n, int32_t output_offset,
                          int32_t act_min, int32_t act_max, int8_t* out) {
  if (AllRequantsSimple(q, n)) {
    for (int32_t i = 0; i < n; ++i) {
      out[i] = RequantizeToInt8<true>(q[i], acc[i], output_offset, act_min, act_max);
    }
  } else {
    for (int32_t i = 0; i < n; ++i) {
      out[i] = RequantizeToInt8(q[i], acc[i], output_offset, act_min, act_max);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Requantization in three instructions, for a doubled accumulator (the 1x1 DSP path feeds
// 2 (x + input_offset) to SMLAD, so its sums come out doubled at no cost per output).
// For a = acc with |a| < 2^30, a multiplier M in [2^30, 2^31) (what QuantizeMultiplier gives
// for any nonzero multiplier), a right shift e in [1, 31] and no left shift:
//   MultiplyByQuantizedMultiplier(a, M, -e) == (h + 2^(e-1) - [a < 0]) >> e,
//   h = floor((2a M + 2^31) / 2^32)  (SMMULR; SMMLAR adds the 2^(e-1)).
// Why: h = floor((a M + 2^30) / 2^31) is TFLM's high product (see ApplyRequant);
// RoundingDivideByPOT(h, e) = floor((h + 2^(e-1) - [h < 0]) / 2^e). [a < 0] differs from
// [h < 0] only for a M = -2^30 (a = -1, M = 2^30), where h = 0 and both give 0 (2^(e-1) - 1
// and 2^(e-1) are both below 2^e). No overflow: |h| <= |a| < 2^30 and 2^(e-1) <= 2^30.
// A multiplier of 0 (QuantizeMultiplier's result for tiny scales, with shift 0) gives h = 0:
// taken as M = 0, e = 1, the formula yields 0 = MultiplyByQuantizedMultiplier(a, 0, 0).
// Fused output offset: for e <= 22 and o in [-128, 127], adding o 2^e to the addend adds o to
// the result (a multiple of 2^e inside the floor) and |addend| <= 2^21 + 128 2^22 < 2^30
// keeps the sum in range: the whole requantization + offset is SMMLAR, ADD, ASR.
struct DoubledRequant {
  int32_t multiplier;  // M (or 0)
  int32_t addend;      // 2^(e-1), + o 2^e when the offset is fused
  int32_t shift;       // e
};

// The e of a channel with QuantizeMultiplier's (multiplier, shift) when the formula above
// applies (no left shift; a right shift, or a zero multiplier), else 0.
inline int32_t DoubledRequantShift(int32_t multiplier, int shift) {
  if (shift > 0) return 0;
  if (multiplier == 0) return 1;
  if (multiplier < (static_cast<int32_t>(1) << 30) || shift == 0) return 0;
  return shift < -31 ? 31 : -shift;
}

// Fills *d for the channel; `fuse_offset` (allowed when DoubledRequantShift <= 22 and
// output_offset is in [-128, 127]) folds the output offset in. False when the formula does
// not apply.
inline bool MakeDoubledRequant(int32_t multiplier, int shift, int32_t output_offset,
                               bool fuse_offset, DoubledRequant* d) {
  const int32_t e = DoubledRequantShift(multiplier, shift);
  if (e == 0 || (fuse_offset && (e > 22 || output_offset < -128 || output_offset > 127))) {
    return false;
  }
  d->multiplier = multiplier;
  d->shift = e;
  d->addend = (static_cast<int32_t>(1) << (e - 1)) +
              (fuse_offset ? output_offset * (static_cast<int32_t>(1) << e) : 0);
  return true;
}

// The formula above in portable C++ (multiplier_check.cc tests it; the DSP path uses SMMLAR).
// Includes the output offset only when it was fused into d.
inline int32_t RequantizeDoubledPortable(const DoubledRequant& d, int32_t acc2) {
  const int64_t p = static_cast<int64_t>(acc2) * d.multiplier + (static_cast<int64_t>(1) << 31);
  const int32_t h = static_cast<int32_t>(p >> 32) + d.addend;
  return (h + (acc2 >> 31)) >> d.shift;
}

// ---------------------------------------------------------------------------------------
// Portable dot products. Blocks of 16 with a constant trip count: GCC's -O2 vectorizer
// (cost model "very cheap") takes those, unknown trip counts it leaves scalar.

constexpr int32_t kBlock = 16;

// sum a[k] * b[k], k < n.
inline uint32_t DotPortable(const int8_t* a, const int8_t* b, int32_t n) {
  uint32_t acc = 0;
  int32_t k = 0;
  for (; k + kBlock <= n; k += kBlock) {
    int32_t block = 0;  // at most 16 * 2^14: no overflow
    for (int32_t j = 0; j < kBlock; ++j) {
      block += static_cast<int32_t>(a[k + j]) * static_cast<int32_t>(b[k + j]);
    }
    acc += static_cast<uint32_t>(block);
  }
  if (k + kBlock / 2 <= n) {  // depth 8 (and the rest of 24, 40, ...): 8 lanes
    int32_t block = 0;
    for (int32_t j = 0; j < kBlock / 2; ++j) {
      block += static_cast<int32_t>(a[k + j]) * static_cast<int32_t>(b[k + j]);
    }
    acc += static_cast<uint32_t>(block);
    k += kBlock / 2;
  }
  for (; k < n; ++k) {
    acc += static_cast<uint32_t>(static_cast<int32_t>(a[k]) * static_cast<int32_t>(b[k]));
  }
  return acc;
}

// sum a[k], k < n.
inline uint32_t SumPortable(const int8_t* a, int32_t n) {
  uint32_t acc = 0;
  int32_t k = 0;
  for (; k + kBlock <= n; k += kBlock) {
    int32_t block = 0;
    for (int32_t j = 0; j < kBlock; ++j) block += a[k + j];
    acc += static_cast<uint32_t>(block);
  }
  for (; k < n; ++k) acc += static_cast<uint32_t>(static_cast<int32_t>(a[k]));
  return acc;
}

// sum a[k] * b[k] and sum b[k], k < n, in one pass (FULLY_CONNECTED: b is a weight row).
inline uint32_t DotAndSumPortable(const int8_t* a, const int8_t* b, int32_t n, uint32_t* sum_b) {
  uint32_t acc = 0, sum = 0;
  int32_t k = 0;
  for (; k + kBlock <= n; k += kBlock) {
    int32_t block = 0, block_sum = 0;
    for (int32_t j = 0; j < kBlock; ++j) {
      block += static_cast<int32_t>(a[k + j]) * static_cast<int32_t>(b[k + j]);
      block_sum += b[k + j];
    }
    acc += static_cast<uint32_t>(block);
    sum += static_cast<uint32_t>(block_sum);
  }
  for (; k < n; ++k) {
    acc += static_cast<uint32_t>(static_cast<int32_t>(a[k]) * static_cast<int32_t>(b[k]));
    sum += static_cast<uint32_t>(static_cast<int32_t>(b[k]));
  }
  *sum_b = sum;
  return acc;
}

#if MD_KERNELS_ARM_DSP
// ---------------------------------------------------------------------------------------
// Cortex-M DSP extension. A word of four int8 values (v0 v1 v2 v3) becomes two words of
// int16 pairs, (v0, v2) by SXTB16 and (v1, v3) by SXTB16 of the word rotated by 8; SMLAD
// multiplies two pairs and adds both products to an accumulator. Both operands are split
// the same way, so each product pairs matching elements.

inline uint32_t LoadWord(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // unaligned-safe; a single LDR on Cortex-M4
  return v;
}

inline int32_t SmladPairs(uint32_t a, uint32_t b, int32_t acc) {
  return __smlad(static_cast<int16x2_t>(a), static_cast<int16x2_t>(b), acc);
}

inline uint32_t Sxtb16(uint32_t v) { return static_cast<uint32_t>(__sxtb16(v)); }

// SXTB16 of v rotated right by 8, one instruction (GCC 12 does not fold a C rotate into
// SXTB16's rotate operand, and its arm_acle.h has no __sxtb16 with rotation).
inline uint32_t Sxtb16Ror8(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

// sum a[k] * b[k], k < n, both int8.
inline uint32_t DotDsp(const int8_t* a, const int8_t* b, int32_t n) {
  int32_t acc = 0;
  int32_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const uint32_t wa = LoadWord(a + k);
    const uint32_t wb = LoadWord(b + k);
    acc = SmladPairs(Sxtb16(wa), Sxtb16(wb), acc);
    acc = SmladPairs(Sxtb16Ror8(wa), Sxtb16Ror8(wb), acc);
  }
  uint32_t total = static_cast<uint32_t>(acc);
  for (; k < n; ++k) {
    total += static_cast<uint32_t>(static_cast<int32_t>(a[k]) * static_cast<int32_t>(b[k]));
  }
  return total;
}

// The requantization of RequantizeDoubledPortable in three instructions (SMMLAR, ADD, ASR).
inline int32_t RequantizeDoubled(const DoubledRequant& d, int32_t acc2) {
  int32_t h;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(h) : "r"(acc2), "r"(d.multiplier), "r"(d.addend));
  return (h + (acc2 >> 31)) >> d.shift;
}

// out[i] = the int8 output of accumulator acc[i] (|acc[i]| < 2^30) with channel requant d[i]:
// kFused, the output offset is in the addends and the range is all of int8 (SSAT clamps);
// otherwise the offset is added after the shift and act_min/act_max clamp.
template <bool kFused>
inline void RequantizeRowDoubled(const DoubledRequant* d, const uint32_t* acc, int32_t n,
                                 int32_t output_offset, int32_t act_min, int32_t act_max,
                                 int8_t* out) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = RequantizeDoubled(d[i], static_cast<int32_t>(acc[i] << 1));
    if (kFused) {
      out[i] = static_cast<int8_t>(__ssat(v, 8));
    } else {
      int32_t o = v + output_offset;
      o = o < act_min ? act_min : o;
      o = o > act_max ? act_max : o;
      out[i] = static_cast<int8_t>(o);
    }
  }
}

// DotAndSumPortable with SMLAD; the sum multiplies b's pairs by (1, 1).
inline uint32_t DotAndSumDsp(const int8_t* a, const int8_t* b, int32_t n, uint32_t* sum_b) {
  constexpr uint32_t kOnes = 0x00010001u;
  int32_t acc = 0, sum = 0;
  int32_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const uint32_t wa = LoadWord(a + k);
    const uint32_t wb = LoadWord(b + k);
    const uint32_t b02 = Sxtb16(wb), b13 = Sxtb16Ror8(wb);
    acc = SmladPairs(Sxtb16(wa), b02, acc);
    acc = SmladPairs(Sxtb16Ror8(wa), b13, acc);
    sum = SmladPairs(b02, kOnes, sum);
    sum = SmladPairs(b13, kOnes, sum);
  }
  uint32_t total = static_cast<uint32_t>(acc), total_sum = static_cast<uint32_t>(sum);
  for (; k < n; ++k) {
    total += static_cast<uint32_t>(static_cast<int32_t>(a[k]) * static_cast<int32_t>(b[k]));
    total_sum += static_cast<uint32_t>(static_cast<int32_t>(b[k]));
  }
  *sum_b = total_sum;
  return total;
}
#endif

inline uint32_t DotAndSum(const int8_t* a, const int8_t* b, int32_t n, uint32_t* sum_b) {
#if MD_KERNELS_ARM_DSP
  return DotAndSumDsp(a, b, n, sum_b);
#else
  return DotAndSumPortable(a, b, n, sum_b);
#endif
}

// The dot product the kernels call: DSP on cores that have it, else portable.
inline uint32_t Dot(const int8_t* a, const int8_t* b, int32_t n) {
#if MD_KERNELS_ARM_DSP
  return DotDsp(a, b, n);
#else
  return DotPortable(a, b, n);
#endif
}

#if MD_KERNELS_ARM_DSP
// sum a[k], k < n: USADA8 adds four unsigned bytes; a byte x ^ 0x80 is x + 128.
inline uint32_t SumDsp(const int8_t* a, int32_t n) {
  uint32_t acc = 0;
  int32_t k = 0;
  for (; k + 4 <= n; k += 4) acc = __usada8(LoadWord(a + k) ^ 0x80808080u, 0, acc);
  acc -= static_cast<uint32_t>(128 * k);
  for (; k < n; ++k) acc += static_cast<uint32_t>(static_cast<int32_t>(a[k]));
  return acc;
}
#endif

inline uint32_t Sum(const int8_t* a, int32_t n) {
#if MD_KERNELS_ARM_DSP
  return SumDsp(a, n);
#else
  return SumPortable(a, n);
#endif
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_INT8_OPT_H_
