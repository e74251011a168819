// ExpFloat(x): single-precision e^x computed the way glibc's expf does (the
// algorithm of Arm's optimized-routines, glibc >= 2.27: a 32-entry table of
// 2^(i/32) and a cubic polynomial, evaluated in double, rounded once to
// float). TFLM's float kernels call expf, and the TFLM we compare with runs
// on glibc; a target's own libm (newlib's single-precision expf on Cortex-M)
// rounds differently in many cases, so kernels that must be bit-exact on
// every target call ExpLikeTflm(), which is glibc's own expf where glibc is
// the C library (the host) and ExpFloat() elsewhere.
//
// ExpFloat() equals glibc 2.36's generic (SSE2) expf on every float in
// [-104, 89] (checked exhaustively; tests/kernels/test_exp_common.py samples
// it). glibc's FMA build of the same code, picked on CPUs with FMA, rounds
// 2 of those 2.2e9 inputs differently.
//
// Cost: ~10 double operations (software double on FPUs without it), so use
// it where exactness matters (float softmax, table generation in prepare).
// Its double multiply-adds are kept unfused (MD_NO_FP_CONTRACT) for targets
// with a double-precision FMA.
#ifndef MD_KERNELS_EXP_COMMON_H_
#define MD_KERNELS_EXP_COMMON_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "md/kernels/float_exact_common.h"

namespace md {
namespace exp_detail {

constexpr int kTableBits = 5;
constexpr int kN = 1 << kTableBits;

// kTable[i] = bits(2^(i/32), rounded to nearest double) - (i << 47), so that
// 2^(k/32) = double(kTable[k % 32] + (k << 47)) for |k| < 150 * 32.
// Generated with exact rational arithmetic.
constexpr uint64_t kTable[kN] = {
    0x3ff0000000000000ULL, 0x3fefd9b0d3158574ULL, 0x3fefb5586cf9890fULL, 0x3fef9301d0125b51ULL,
    0x3fef72b83c7d517bULL, 0x3fef54873168b9aaULL, 0x3fef387a6e756238ULL, 0x3fef1e9df51fdee1ULL,
    0x3fef06fe0a31b715ULL, 0x3feef1a7373aa9cbULL, 0x3feedea64c123422ULL, 0x3feece086061892dULL,
    0x3feebfdad5362a27ULL, 0x3feeb42b569d4f82ULL, 0x3feeab07dd485429ULL, 0x3feea47eb03a5585ULL,
    0x3feea09e667f3bcdULL, 0x3fee9f75e8ec5f74ULL, 0x3feea11473eb0187ULL, 0x3feea589994cce13ULL,
    0x3feeace5422aa0dbULL, 0x3feeb737b0cdc5e5ULL, 0x3feec49182a3f090ULL, 0x3feed503b23e255dULL,
    0x3feee89f995ad3adULL, 0x3feeff76f2fb5e47ULL, 0x3fef199bdd85529cULL, 0x3fef3720dcef9069ULL,
    0x3fef5818dcfba487ULL, 0x3fef7c97337b9b5fULL, 0x3fefa4afa2a490daULL, 0x3fefd0765b6e4540ULL,
};

// 2^(r/32) ~= 1 + C2 r + C1 r^2 + C0 r^3 for |r| <= 1/2 (coefficients of the
// optimized-routines fit, pre-divided by powers of 32, which is exact).
constexpr double kC0 = 0x1.c6af84b912394p-5 / kN / kN / kN;
constexpr double kC1 = 0x1.ebfce50fac4f3p-3 / kN / kN;
constexpr double kC2 = 0x1.62e42ff0c52d6p-1 / kN;
constexpr double kInvLn2N = 0x1.71547652b82fep+0 * kN;
constexpr double kShift = 0x1.8p+52;  // adding it rounds to an integer (ties to even)

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline uint64_t DoubleBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}
inline double DoubleFromBits(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof(d));
  return d;
}

}  // namespace exp_detail

MD_NO_FP_CONTRACT inline float ExpFloat(float x) {
  using namespace exp_detail;
  const uint32_t abstop = (FloatBits(x) >> 20) & 0x7ff;
  if (abstop >= (FloatBits(88.0f) >> 20)) {
    // |x| >= 88, inf or NaN.
    if (FloatBits(x) == FloatBits(-std::numeric_limits<float>::infinity())) return 0.0f;
    if (abstop >= (FloatBits(std::numeric_limits<float>::infinity()) >> 20)) return x + x;
    if (x > 0x1.62e42ep6f) return std::numeric_limits<float>::infinity();  // > log(2^128)
    if (x < -0x1.9fe368p6f) return 0.0f;                                   // < log(2^-150)
  }
  const double xd = static_cast<double>(x);
  double z = kInvLn2N * xd;
  // z = k + r with integer k (round to nearest) and r in [-1/2, 1/2].
  // (Targets with excess-precision doubles, x87, would need this sum rounded to double.)
  double kd = z + kShift;
  const uint64_t ki = DoubleBits(kd);
  kd -= kShift;
  const double r = z - kd;
  // s = 2^(k/32): table entry with k/32 added to the exponent field.
  uint64_t t = kTable[ki % kN];
  t += ki << (52 - kTableBits);
  const double s = DoubleFromBits(t);
  z = kC0 * r + kC1;
  const double r2 = r * r;
  double y = kC2 * r + 1;
  y = z * r2 + y;
  y = y * s;
  return static_cast<float>(y);
}

// e^x as the TFLM we compare with computes it (see the file comment).
inline float ExpLikeTflm(float x) {
#if defined(__GLIBC__)
  return std::exp(x);
#else
  return ExpFloat(x);
#endif
}

}  // namespace md

#endif  // MD_KERNELS_EXP_COMMON_H_
