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
#include <cstring>

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

// ---------------------------------------------------------------------------------------
// Requantization of four channels at a time: RequantizeToInt8<true> (ApplyRequantSimple, the
// output offset, the clamp) for channels with RequantIsSimple and a right shift e <= 30.
// - high = floor((acc * m + 2^30) / 2^31) (int8_opt.h): PMULUDQ multiplies unsigned 32-bit
//   lanes, so acc is biased to acc + 2^31 (< 2^32); (acc + 2^31) * m + 2^30 < 2^63, its
//   floor by 2^31 is below 2^32, and subtracting m (= 2^31 * m / 2^31) gives high exactly.
// - floor(high / 2^e) with a different e per lane (SSE2 shifts every lane alike): for
//   u = high + 2^31 < 2^32, floor(u / 2^e) = (u * 2^(32 - e)) >> 32, then minus 2^(31 - e).
// - the rounding bit (rem + half - [high < 0]) >> e of ApplyRequantSimple is 0 or 1, i.e. the
//   compare rem + half - [high < 0] > mask; with e <= 30 every term is below 2^31.
// - the offset and clamp in int16: results beyond int16 saturate (packs) and stay beyond the
//   int8 activation range after adding an offset of at most 32000 in magnitude (adds), so
//   the clamp (act_min, act_max within int8) gives what the int32 arithmetic gives.
struct RequantSse2 {
  bool vector_ok = false;  // every channel fits the conditions above
  int32_t multiplier[kChannelChunk];
  uint32_t scale[kChannelChunk];  // 2^(32 - e)
  int32_t bias[kChannelChunk];    // 2^(31 - e)
  int32_t mask[kChannelChunk];    // 2^e - 1
  int32_t half[kChannelChunk];    // 2^(e - 1)
};

inline void PrepareRequantSse2(const Requant* q, int32_t n, int32_t output_offset, RequantSse2* r) {
  r->vector_ok = output_offset >= -32000 && output_offset <= 32000;
  for (int32_t i = 0; i < n && r->vector_ok; ++i) {
    r->vector_ok = RequantIsSimple(q[i]) && q[i].right_shift <= 30;
  }
  if (!r->vector_ok) return;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t e = q[i].right_shift;
    r->multiplier[i] = q[i].multiplier;
    r->scale[i] = static_cast<uint32_t>(1) << (32 - e);
    r->bias[i] = static_cast<int32_t>(static_cast<uint32_t>(1) << (31 - e));
    r->mask[i] = static_cast<int32_t>(q[i].round_mask);
    r->half[i] = static_cast<int32_t>(q[i].round_half);
  }
}

inline __m128i LoadInt32x4(const void* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// The upper 32 bits of the 64-bit products of the unsigned 32-bit lanes of a and b.
inline __m128i MulHigh(__m128i a, __m128i b) {
  const __m128i p02 = _mm_mul_epu32(a, b);
  const __m128i p13 = _mm_mul_epu32(_mm_srli_epi64(a, 32), _mm_srli_epi64(b, 32));
  return _mm_or_si128(_mm_srli_epi64(p02, 32), _mm_and_si128(p13, _mm_set_epi32(-1, 0, -1, 0)));
}

// Channels [i, i + 4): requantized, before the offset.
inline __m128i RequantFourSse2(const RequantSse2& r, const uint32_t* acc, int32_t i) {
  const __m128i sign = _mm_set1_epi32(static_cast<int32_t>(0x80000000u));
  const __m128i m = LoadInt32x4(r.multiplier + i);
  const __m128i biased = _mm_xor_si128(LoadInt32x4(acc + i), sign);
  // (biased * m + 2^30) >> 31, per lane; the 64-bit adds of 2^30 cannot carry out.
  const __m128i p02 = _mm_add_epi64(_mm_mul_epu32(biased, m), _mm_set1_epi64x(1 << 30));
  const __m128i p13 = _mm_add_epi64(
      _mm_mul_epu32(_mm_srli_epi64(biased, 32), _mm_srli_epi64(m, 32)), _mm_set1_epi64x(1 << 30));
  const __m128i high = _mm_sub_epi32(
      _mm_or_si128(_mm_srli_epi64(p02, 31), _mm_slli_epi64(_mm_srli_epi64(p13, 31), 32)), m);
  const __m128i floor_div = _mm_sub_epi32(
      MulHigh(_mm_xor_si128(high, sign), LoadInt32x4(r.scale + i)), LoadInt32x4(r.bias + i));
  const __m128i mask = LoadInt32x4(r.mask + i);
  const __m128i t = _mm_sub_epi32(_mm_add_epi32(_mm_and_si128(high, mask), LoadInt32x4(r.half + i)),
                                  _mm_srli_epi32(high, 31));
  return _mm_sub_epi32(floor_div, _mm_cmpgt_epi32(t, mask));
}

// RequantizeRow (int8_opt.h) with the channels' RequantSse2.
inline void RequantizeRowSse2(const RequantSse2& r, const Requant* q, const uint32_t* acc,
                              int32_t n, int32_t output_offset, int32_t act_min, int32_t act_max,
                              int8_t* out) {
  if (!r.vector_ok) {
    RequantizeRow(q, acc, n, output_offset, act_min, act_max, out);
    return;
  }
  const __m128i offset = _mm_set1_epi16(static_cast<int16_t>(output_offset));
  const __m128i lo = _mm_set1_epi16(static_cast<int16_t>(act_min));
  const __m128i hi = _mm_set1_epi16(static_cast<int16_t>(act_max));
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i v = _mm_packs_epi32(RequantFourSse2(r, acc, i), RequantFourSse2(r, acc, i + 4));
    v = _mm_min_epi16(_mm_max_epi16(_mm_adds_epi16(v, offset), lo), hi);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi16(v, v));
  }
  if (i + 4 <= n) {
    __m128i v = _mm_packs_epi32(RequantFourSse2(r, acc, i), _mm_setzero_si128());
    v = _mm_min_epi16(_mm_max_epi16(_mm_adds_epi16(v, offset), lo), hi);
    const int32_t bytes = _mm_cvtsi128_si32(_mm_packs_epi16(v, v));
    std::memcpy(out + i, &bytes, 4);
    i += 4;
  }
  for (; i < n; ++i) {
    out[i] = RequantizeToInt8<true>(q[i], acc[i], output_offset, act_min, act_max);
  }
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_SSE2
#endif  // MD_KERNELS_INT8_SSE2_H_
