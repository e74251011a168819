// x86 SSE2 building blocks of the optimized int8 paths (int8_opt.h selects them on hosts:
// MD_KERNELS_SSE2). SSE2 is the x86-64 baseline, so every x86-64 host runs them; nothing
// newer (SSSE3, AVX2) is assumed.
//
// The workhorse is PMADDWD: eight int16 x int16 products added in pairs into four int32
// lanes. Both operands are split into their even and odd bytes, sign-extended to int16
// (as the DSP path's SXTB16 does), so each product pairs matching elements.
//
// The input zero point is added to the input values in int16 instead of being folded into
// a per-channel filter sum: x + offset lies in [-255, 255] for the offsets these paths take
// (SseOffsetOk), a product with an int8 weight in [-32640, 32640] and PMADDWD's pair sums fit
// int32. Taps outside the input read the input zero point (x + offset = 0), so they add
// nothing, as in TFLM. Accumulators are int32 lanes added with wrap-around, i.e. modulo 2^32
// like every other accumulator of the optimized paths (int8_opt.h).
#ifndef MD_KERNELS_INT8_SSE2_H_
#define MD_KERNELS_INT8_SSE2_H_

#include <cstdint>

#include "md/kernels/int8_opt.h"

#if MD_KERNELS_SSE2
#include <emmintrin.h>

namespace md {
namespace opt {

// The input offsets (-input zero point) whose values x + offset fit the int16 lanes above and
// whose zero point is an int8 (it fills the taps outside the input).
inline bool SseOffsetOk(int32_t input_offset) {
  return input_offset >= -127 && input_offset <= 128;
}

inline __m128i LoadBytes16(const int8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

inline __m128i LoadBytes8(const int8_t* p) {  // upper 8 bytes zero
  return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
}

// Even / odd bytes of v as sign-extended int16 lanes.
inline __m128i EvenBytes(__m128i v) { return _mm_srai_epi16(_mm_slli_epi16(v, 8), 8); }
inline __m128i OddBytes(__m128i v) { return _mm_srai_epi16(v, 8); }

// acc + the products of (xe, xo) with w's even and odd bytes.
inline __m128i MaddBytes(__m128i acc, __m128i xe, __m128i xo, __m128i w) {
  return _mm_add_epi32(
      acc, _mm_add_epi32(_mm_madd_epi16(xe, EvenBytes(w)), _mm_madd_epi16(xo, OddBytes(w))));
}

// Lane r of the result: the sum of the four lanes of a_r.
inline __m128i ReduceFour(__m128i a0, __m128i a1, __m128i a2, __m128i a3) {
  const __m128i s01 = _mm_add_epi32(_mm_unpacklo_epi32(a0, a1), _mm_unpackhi_epi32(a0, a1));
  const __m128i s23 = _mm_add_epi32(_mm_unpacklo_epi32(a2, a3), _mm_unpackhi_epi32(a2, a3));
  return _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
}

inline uint32_t ReduceOne(__m128i a) {
  a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
  a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(a));
}

// out[r] = sum_k (x[k] + offset) * w[r * w_stride + k], k < n, for rows r < 4 (modulo 2^32).
inline void Dot4Sse2(const int8_t* x, int32_t offset, const int8_t* w, int32_t w_stride, int32_t n,
                     uint32_t out[4]) {
  const __m128i off = _mm_set1_epi16(static_cast<int16_t>(offset));
  const int8_t* w0 = w;
  const int8_t* w1 = w + w_stride;
  const int8_t* w2 = w1 + w_stride;
  const int8_t* w3 = w2 + w_stride;
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  int32_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m128i xv = LoadBytes16(x + k);
    const __m128i xe = _mm_add_epi16(EvenBytes(xv), off);
    const __m128i xo = _mm_add_epi16(OddBytes(xv), off);
    a0 = MaddBytes(a0, xe, xo, LoadBytes16(w0 + k));
    a1 = MaddBytes(a1, xe, xo, LoadBytes16(w1 + k));
    a2 = MaddBytes(a2, xe, xo, LoadBytes16(w2 + k));
    a3 = MaddBytes(a3, xe, xo, LoadBytes16(w3 + k));
  }
  if (k + 8 <= n) {  // the upper 8 weight bytes are zero: x + offset there multiplies 0
    const __m128i xv = LoadBytes8(x + k);
    const __m128i xe = _mm_add_epi16(EvenBytes(xv), off);
    const __m128i xo = _mm_add_epi16(OddBytes(xv), off);
    a0 = MaddBytes(a0, xe, xo, LoadBytes8(w0 + k));
    a1 = MaddBytes(a1, xe, xo, LoadBytes8(w1 + k));
    a2 = MaddBytes(a2, xe, xo, LoadBytes8(w2 + k));
    a3 = MaddBytes(a3, xe, xo, LoadBytes8(w3 + k));
    k += 8;
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), ReduceFour(a0, a1, a2, a3));
  for (; k < n; ++k) {
    const int32_t v = static_cast<int32_t>(x[k]) + offset;
    out[0] += static_cast<uint32_t>(v * static_cast<int32_t>(w0[k]));
    out[1] += static_cast<uint32_t>(v * static_cast<int32_t>(w1[k]));
    out[2] += static_cast<uint32_t>(v * static_cast<int32_t>(w2[k]));
    out[3] += static_cast<uint32_t>(v * static_cast<int32_t>(w3[k]));
  }
}

// sum_k (x[k] + offset) * w[k], k < n (modulo 2^32).
inline uint32_t Dot1Sse2(const int8_t* x, int32_t offset, const int8_t* w, int32_t n) {
  const __m128i off = _mm_set1_epi16(static_cast<int16_t>(offset));
  __m128i a = _mm_setzero_si128();
  int32_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m128i xv = LoadBytes16(x + k);
    a = MaddBytes(a, _mm_add_epi16(EvenBytes(xv), off), _mm_add_epi16(OddBytes(xv), off),
                  LoadBytes16(w + k));
  }
  if (k + 8 <= n) {
    const __m128i xv = LoadBytes8(x + k);
    a = MaddBytes(a, _mm_add_epi16(EvenBytes(xv), off), _mm_add_epi16(OddBytes(xv), off),
                  LoadBytes8(w + k));
    k += 8;
  }
  uint32_t acc = ReduceOne(a);
  for (; k < n; ++k) {
    acc +=
        static_cast<uint32_t>((static_cast<int32_t>(x[k]) + offset) * static_cast<int32_t>(w[k]));
  }
  return acc;
}

// out[r] += sum_k (x[k] + offset) * w[r * w_stride + k] for rows r < rows (any count).
inline void DotRowsSse2(const int8_t* x, int32_t offset, const int8_t* w, int32_t w_stride,
                        int32_t n, int32_t rows, uint32_t* out) {
  int32_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    uint32_t sums[4];
    Dot4Sse2(x, offset, w + r * w_stride, w_stride, n, sums);
    out[r] += sums[0], out[r + 1] += sums[1], out[r + 2] += sums[2], out[r + 3] += sums[3];
  }
  for (; r < rows; ++r) out[r] += Dot1Sse2(x, offset, w + r * w_stride, n);
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_SSE2
#endif  // MD_KERNELS_INT8_SSE2_H_
