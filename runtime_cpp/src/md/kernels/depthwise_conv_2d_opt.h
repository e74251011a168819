// Optimized int8 DEPTHWISE_CONV_2D (see int8_opt.h for the selection and the bit-exactness
// argument).
//
// Channels innermost: for one output pixel, each tap adds input[channel] x filter[channel]
// into a row of per-channel accumulators, contiguous in both the input pixel and the filter
// (layout [1, H, W, out_depth]), which the compiler vectorizes (fixed-length rows of 8, 16
// or 32 channels). As in conv_2d_opt.h the input zero point is folded into a per-channel
// base (bias + offset x filter sum) for windows that lie inside the input; clipped windows
// at the borders add the offset to the input values instead. On the Cortex-M DSP path, four
// channels are split by SXTB16 and multiplied by SMLABB/SMLATT with the accumulators in
// registers while the taps run.
#ifndef MD_KERNELS_DEPTHWISE_CONV_2D_OPT_H_
#define MD_KERNELS_DEPTHWISE_CONV_2D_OPT_H_

#include <cstdint>
#include <cstring>

#include "md/kernels/band_constants.h"
#include "md/kernels/conv_2d_opt.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/kernels/int8_sse2.h"
#include "md/kernels/path_variants.h"
#include "md/tensor.h"

namespace md {
namespace opt {

struct DepthwiseInt8Args {
  const int8_t* input;
  const int8_t* filter;  // [1, filter_h, filter_w, out_depth]
  const int32_t* bias;   // may be nullptr
  int8_t* output;
  int32_t batches, in_h, in_w, in_depth, depth_multiplier, out_depth;
  WindowGeometry g;
  int32_t input_offset, output_offset, act_min, act_max;
};

// acc[c] += in[c] * f[c] (+ offset on in), c < N: fixed trip counts for the vectorizer.
template <int32_t N>
inline void TapRow(const int8_t* in, const int8_t* f, int32_t offset, uint32_t* acc) {
  for (int32_t c = 0; c < N; ++c) {
    acc[c] +=
        static_cast<uint32_t>((static_cast<int32_t>(in[c]) + offset) * static_cast<int32_t>(f[c]));
  }
}

// Cores with a 128-bit vector unit (x86 SSE2, Arm NEON) multiply int16 lanes 8 at a time;
// SSE2 has no int32 lane multiply at all. Scalar cores (Cortex-M) keep int32 products: an
// int16 product would cost them a sign extension more.
#if defined(__SSE2__) || defined(__ARM_NEON)
constexpr bool kNarrowTaps = true;
#else
constexpr bool kNarrowTaps = false;
#endif

// acc[c] += x * f[c], c < N: one input value for N channels (depth multiplier >= N), for
// |x| <= 255: each product then fits int16 (|x * f| <= 32640), so the vectorizer multiplies
// 8 int16 lanes at once (int32 multiplies have no SSE2 instruction) before widening the sums.
template <int32_t N>
inline void TapRowBroadcast(int32_t x, const int8_t* f, uint32_t* acc) {
  const int16_t x16 = static_cast<int16_t>(x);
  for (int32_t c = 0; c < N; ++c) {
    const int16_t product = static_cast<int16_t>(x16 * static_cast<int16_t>(f[c]));
    acc[c] += static_cast<uint32_t>(static_cast<int32_t>(product));
  }
}

// TapRow for an offset in [-127, 128]: in + offset and its product with f fit int16 (as in
// TapRowBroadcast), so the vectorizer multiplies int16 lanes.
template <int32_t N>
inline void TapRowNarrow(const int8_t* in, const int8_t* f, int32_t offset, uint32_t* acc) {
  const int16_t off = static_cast<int16_t>(offset);
  for (int32_t c = 0; c < N; ++c) {
    const int16_t x = static_cast<int16_t>(in[c] + off);
    const int16_t product = static_cast<int16_t>(x * static_cast<int16_t>(f[c]));
    acc[c] += static_cast<uint32_t>(static_cast<int32_t>(product));
  }
}

inline void TapRowAny(const int8_t* in, const int8_t* f, int32_t offset, int32_t n, uint32_t* acc) {
  if (kNarrowTaps && offset >= -127 && offset <= 128) {
    if (n == 32) return TapRowNarrow<32>(in, f, offset, acc);
    if (n == 16) return TapRowNarrow<16>(in, f, offset, acc);
    if (n == 8) return TapRowNarrow<8>(in, f, offset, acc);
  }
  if (n == 32) return TapRow<32>(in, f, offset, acc);
  if (n == 16) return TapRow<16>(in, f, offset, acc);
  if (n == 8) return TapRow<8>(in, f, offset, acc);
  for (int32_t c = 0; c < n; ++c) {
    acc[c] +=
        static_cast<uint32_t>((static_cast<int32_t>(in[c]) + offset) * static_cast<int32_t>(f[c]));
  }
}

#if MD_KERNELS_ARM_DSP
// Channels [c, c + 4) of one output pixel whose window lies inside the input: accumulators in
// registers over all taps. kBroadcast: the four channels read one input channel (depth
// multiplier a multiple of 4), else four adjacent input channels (depth multiplier 1).
// step_x / step_y: input bytes between horizontal / vertical taps; filter_step: out_depth.
// Not inlined: inside the pixel loop it would share registers with that loop's state and
// spill its accumulators on every tap.
template <bool kBroadcast>
__attribute__((noinline)) void DepthwiseFourChannelsDsp(const int8_t* in_origin,
                                                        const int8_t* filter, int32_t filter_h,
                                                        int32_t filter_w, int32_t step_x,
                                                        int32_t step_y, int32_t filter_step,
                                                        const uint32_t* base, uint32_t* acc) {
  int32_t a0 = static_cast<int32_t>(base[0]), a1 = static_cast<int32_t>(base[1]);
  int32_t a2 = static_cast<int32_t>(base[2]), a3 = static_cast<int32_t>(base[3]);
  for (int32_t fy = 0; fy < filter_h; ++fy) {
    const int8_t* in = in_origin + fy * step_y;
    for (int32_t fx = 0; fx < filter_w; ++fx) {
      const uint32_t w = LoadWord(filter);
      const int16x2_t w02 = __sxtb16(w), w13 = static_cast<int16x2_t>(Sxtb16Ror8(w));
      if (kBroadcast) {
        // The bottom half of a sign-extended int8 is the value: SMLABB/SMLABT take it.
        const int16x2_t x = static_cast<int16x2_t>(static_cast<int32_t>(*in));
        a0 = __smlabb(x, w02, a0);
        a2 = __smlabt(x, w02, a2);
        a1 = __smlabb(x, w13, a1);
        a3 = __smlabt(x, w13, a3);
      } else {
        const uint32_t xw = LoadWord(in);
        const int16x2_t x02 = __sxtb16(xw), x13 = static_cast<int16x2_t>(Sxtb16Ror8(xw));
        a0 = __smlabb(x02, w02, a0);
        a2 = __smlatt(x02, w02, a2);
        a1 = __smlabb(x13, w13, a1);
        a3 = __smlatt(x13, w13, a3);
      }
      in += step_x;
      filter += filter_step;
    }
  }
  acc[0] = static_cast<uint32_t>(a0), acc[1] = static_cast<uint32_t>(a1);
  acc[2] = static_cast<uint32_t>(a2), acc[3] = static_cast<uint32_t>(a3);
}

// 3x3 windows: the chunk's filter words sign-extended once (Widen3x3Filters: per group of four
// channels, tap t's (w0, w2) and (w1, w3) pairs at words 2t and 2t + 1), and the nine taps
// unrolled: per tap one input load, two SXTB16 (none for kBroadcast), one LDRD of the filter
// pairs and four SMLAxy, about 8 instructions for 4 MACs instead of about 15.
constexpr int32_t kDw3x3Words = 18;

inline void Widen3x3Filters(const int8_t* filter, int32_t out_depth, int32_t c0, int32_t n,
                            uint32_t* w) {
  for (int32_t c = 0; c + 4 <= n; c += 4, w += kDw3x3Words) {
    for (int32_t t = 0; t < 9; ++t) {
      const uint32_t word = LoadWord(filter + t * out_depth + c0 + c);
      w[2 * t] = Sxtb16(word);
      w[2 * t + 1] = Sxtb16Ror8(word);
    }
  }
}

// One tap of DepthwiseFourChannels3x3Dsp: w[0], w[1] are its (w0, w2) and (w1, w3) pairs.
template <bool kBroadcast>
__attribute__((always_inline)) inline void Dw3x3Tap(const int8_t* in, const uint32_t* w,
                                                    int32_t& a0, int32_t& a1, int32_t& a2,
                                                    int32_t& a3) {
  const int16x2_t w02 = static_cast<int16x2_t>(w[0]), w13 = static_cast<int16x2_t>(w[1]);
  if (kBroadcast) {  // the bottom half of a sign-extended int8 is the value
    const int16x2_t x = static_cast<int16x2_t>(static_cast<int32_t>(*in));
    a0 = __smlabb(x, w02, a0);
    a2 = __smlabt(x, w02, a2);
    a1 = __smlabb(x, w13, a1);
    a3 = __smlabt(x, w13, a3);
  } else {
    const uint32_t xw = LoadWord(in);
    const int16x2_t x02 = __sxtb16(xw), x13 = static_cast<int16x2_t>(Sxtb16Ror8(xw));
    a0 = __smlabb(x02, w02, a0);
    a2 = __smlatt(x02, w02, a2);
    a1 = __smlabb(x13, w13, a1);
    a3 = __smlatt(x13, w13, a3);
  }
}

// Channels [c, c + 4) of one output pixel whose 3x3 window lies inside the input (see
// DepthwiseFourChannelsDsp), the nine taps written out.
template <bool kBroadcast>
__attribute__((noinline)) void DepthwiseFourChannels3x3Dsp(const int8_t* origin, int32_t step_x,
                                                           int32_t step_y, const uint32_t* w,
                                                           const uint32_t* base, uint32_t* acc) {
  int32_t a0 = static_cast<int32_t>(base[0]), a1 = static_cast<int32_t>(base[1]);
  int32_t a2 = static_cast<int32_t>(base[2]), a3 = static_cast<int32_t>(base[3]);
  const int8_t* r0 = origin;
  const int8_t* r1 = origin + step_y;
  const int8_t* r2 = r1 + step_y;
  Dw3x3Tap<kBroadcast>(r0, w, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r0 + step_x, w + 2, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r0 + 2 * step_x, w + 4, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r1, w + 6, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r1 + step_x, w + 8, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r1 + 2 * step_x, w + 10, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r2, w + 12, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r2 + step_x, w + 14, a0, a1, a2, a3);
  Dw3x3Tap<kBroadcast>(r2 + 2 * step_x, w + 16, a0, a1, a2, a3);
  acc[0] = static_cast<uint32_t>(a0), acc[1] = static_cast<uint32_t>(a1);
  acc[2] = static_cast<uint32_t>(a2), acc[3] = static_cast<uint32_t>(a3);
}

// DepthwiseFourChannels3x3Dsp for a window clipped by the input's border: tap t reads
// taps[t] + rel, where a tap outside the input points at a row of input zero points (x + offset
// = 0 there, so with the whole-filter base those taps add nothing, as TFLM skips them).
template <bool kBroadcast>
__attribute__((noinline)) void DepthwiseFourChannels3x3ListDsp(const int8_t* const* taps,
                                                               int32_t rel, const uint32_t* w,
                                                               const uint32_t* base,
                                                               uint32_t* acc) {
  int32_t a0 = static_cast<int32_t>(base[0]), a1 = static_cast<int32_t>(base[1]);
  int32_t a2 = static_cast<int32_t>(base[2]), a3 = static_cast<int32_t>(base[3]);
  for (int32_t t = 0; t < 9; ++t) Dw3x3Tap<kBroadcast>(taps[t] + rel, w + 2 * t, a0, a1, a2, a3);
  acc[0] = static_cast<uint32_t>(a0), acc[1] = static_cast<uint32_t>(a1);
  acc[2] = static_cast<uint32_t>(a2), acc[3] = static_cast<uint32_t>(a3);
}
#endif

#if MD_KERNELS_SSE2
// SSE2 depthwise: PMADDWD multiplies pairs of taps. For tap pair p, output channel c gets
// (x[2p] + offset) * w[2p][c] + (x[2p+1] + offset) * w[2p+1][c] in one int32 lane, so the
// weights of a chunk are arranged once as int16 pairs (ArrangeTapPairs) and each output
// pixel lists its taps' input pixels (taps outside the input point at a row of zero points;
// an odd last tap pairs with a zero weight). Depth multiplier 1: 8 channels read 8 adjacent
// input channels of both taps; a multiple of 4: 4 or 8 channels share one input value pair.

constexpr int32_t kDwSseMaxTaps = 128;  // pairs x chunk x 4 bytes of weights on the stack

// wp[(p * n + i) * 2 + j] = w[2p + j][c0 + i], 0 past the last tap.
inline void ArrangeTapPairs(const int8_t* filter, int32_t taps, int32_t out_depth, int32_t c0,
                            int32_t n, int16_t* wp) {
  for (int32_t p = 0; p < (taps + 1) / 2; ++p) {
    const int8_t* w0 = filter + 2 * p * out_depth + c0;
    const int8_t* w1 = 2 * p + 1 < taps ? w0 + out_depth : nullptr;
    for (int32_t i = 0; i < n; ++i) {
      wp[(p * n + i) * 2] = w0[i];
      wp[(p * n + i) * 2 + 1] = w1 != nullptr ? w1[i] : 0;
    }
  }
}

// int16 lanes (x0[0] + off, x1[0] + off, x0[1] + off, x1[1] + off, ...) from the low bytes of
// the interleaved pairs v (lo) or its high bytes (hi).
inline __m128i PairsLo(__m128i v, __m128i off) {
  return _mm_add_epi16(_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8), off);
}
inline __m128i PairsHi(__m128i v, __m128i off) {
  return _mm_add_epi16(_mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8), off);
}

inline __m128i LoadBytes4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm_cvtsi32_si128(v);
}

inline __m128i LoadInt16x8(const int16_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Where tap t of one output pixel reads (input channel `ic0` of its input pixel): a list of
// pointers, for windows clipped by the input's border (taps outside read zero points) ...
struct TapList {
  const int8_t* const* ptr;
  const int8_t* operator()(int32_t t) const { return ptr[t]; }
};
// ... or, for windows inside the input, the window's origin and offsets the same for every
// such pixel (no per-pixel list).
struct TapOffsets {
  const int8_t* origin;
  const int32_t* offset;
  const int8_t* operator()(int32_t t) const { return origin + offset[t]; }
};

// One output pixel, channels [c0, c0 + n): acc[i] += its taps; pairs = (taps + 1) / 2, and
// tap(2 * pairs - 1) exists for an odd count (its weights are 0).
template <typename Taps>
inline void DepthwisePixelSse2(const Taps& tap, int32_t pairs, const int16_t* wp, int32_t n,
                               int32_t dm, int32_t c0, int32_t ic0, int32_t offset, uint32_t* acc) {
  const __m128i off = _mm_set1_epi16(static_cast<int16_t>(offset));
  int32_t i = 0;
  if (dm == 1) {
    for (; i + 8 <= n; i += 8) {
      __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i));
      __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i + 4));
      for (int32_t p = 0; p < pairs; ++p) {
        const __m128i v =
            _mm_unpacklo_epi8(LoadBytes8(tap(2 * p) + i), LoadBytes8(tap(2 * p + 1) + i));
        const int16_t* w = wp + (p * n + i) * 2;
        lo = _mm_add_epi32(lo, _mm_madd_epi16(PairsLo(v, off), LoadInt16x8(w)));
        hi = _mm_add_epi32(hi, _mm_madd_epi16(PairsHi(v, off), LoadInt16x8(w + 8)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i), lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i + 4), hi);
    }
    for (; i + 4 <= n; i += 4) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i));
      for (int32_t p = 0; p < pairs; ++p) {
        const __m128i v =
            _mm_unpacklo_epi8(LoadBytes4(tap(2 * p) + i), LoadBytes4(tap(2 * p + 1) + i));
        a = _mm_add_epi32(a, _mm_madd_epi16(PairsLo(v, off), LoadInt16x8(wp + (p * n + i) * 2)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i), a);
    }
  } else if (dm % 4 == 0) {
    // Channels c0 + i .. + 3 (i a multiple of 4, and so is c0) read one input channel.
    const int32_t group = dm % 8 == 0 && (c0 % 8) == 0 ? 8 : 4;
    for (; i + group <= n; i += group) {
      const int32_t rel = (c0 + i) / dm - ic0;
      __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i));
      __m128i hi = group == 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i + 4))
                              : _mm_setzero_si128();
      for (int32_t p = 0; p < pairs; ++p) {
        const uint32_t x0 = static_cast<uint16_t>(tap(2 * p)[rel] + offset);
        const uint32_t x1 = static_cast<uint16_t>(tap(2 * p + 1)[rel] + offset);
        const __m128i x = _mm_set1_epi32(static_cast<int32_t>(x0 | (x1 << 16)));
        const int16_t* w = wp + (p * n + i) * 2;
        lo = _mm_add_epi32(lo, _mm_madd_epi16(x, LoadInt16x8(w)));
        if (group == 8) hi = _mm_add_epi32(hi, _mm_madd_epi16(x, LoadInt16x8(w + 8)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i), lo);
      if (group == 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i + 4), hi);
    }
  }
  for (; i < n; ++i) {  // the rest, one channel at a time
    const int32_t rel = (c0 + i) / dm - ic0;
    uint32_t sum = 0;
    for (int32_t p = 0; p < pairs; ++p) {
      const int16_t* w = wp + (p * n + i) * 2;
      sum += static_cast<uint32_t>((tap(2 * p)[rel] + offset) * w[0] +
                                   (tap(2 * p + 1)[rel] + offset) * w[1]);
    }
    acc[i] += sum;
  }
}

// Channels [c0, c1) of every output pixel; q and bias of those channels.
inline void DepthwiseChunkSse2(const DepthwiseInt8Args a, const Requant* q, const uint32_t* bias,
                               int32_t c0, int32_t c1) {
  const WindowGeometry g = a.g;
  const int32_t n = c1 - c0;
  const int32_t dm = a.depth_multiplier;
  const int32_t ic0 = c0 / dm;
  const int32_t taps = g.filter_h * g.filter_w;
  const int32_t pairs = (taps + 1) / 2;
  int16_t wp[kDwSseMaxTaps / 2 * kChannelChunk * 2];
  ArrangeTapPairs(a.filter, taps, a.out_depth, c0, n, wp);
  int8_t zero_points[kChannelChunk];
  std::memset(zero_points, -a.input_offset, sizeof(zero_points));
  const int8_t* tap[kDwSseMaxTaps];
  tap[taps] = zero_points;  // an odd count's last pair (weight 0); the entry exists: taps < max
  int32_t tap_offset[kDwSseMaxTaps];
  for (int32_t fy = 0; fy < g.filter_h; ++fy) {
    for (int32_t fx = 0; fx < g.filter_w; ++fx) {
      tap_offset[fy * g.filter_w + fx] =
          (g.dilation_h * fy * a.in_w + g.dilation_w * fx) * a.in_depth;
    }
  }
  tap_offset[taps] = 0;  // the window's origin, inside the input (weight 0)
  uint32_t acc[kChannelChunk];
  RequantSse2 requant;
  PrepareRequantSse2(q, n, a.output_offset, &requant);
  for (int32_t b = 0; b < a.batches; ++b) {
    const int8_t* image = a.input + b * a.in_h * a.in_w * a.in_depth + ic0;
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t y0 = out_y * g.stride_h - g.pad_h;
      // Rows of taps inside the input: [fy_lo, fy_hi) (in_y grows with fy).
      int32_t fy_lo = 0, fy_hi = g.filter_h;
      while (fy_lo < fy_hi && y0 + g.dilation_h * fy_lo < 0) ++fy_lo;
      while (fy_hi > fy_lo && y0 + g.dilation_h * (fy_hi - 1) >= a.in_h) --fy_hi;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t x0 = out_x * g.stride_w - g.pad_w;
        int32_t fx_lo = 0, fx_hi = g.filter_w;
        while (fx_lo < fx_hi && x0 + g.dilation_w * fx_lo < 0) ++fx_lo;
        while (fx_hi > fx_lo && x0 + g.dilation_w * (fx_hi - 1) >= a.in_w) --fx_hi;
        if (fy_lo == 0 && fy_hi == g.filter_h && fx_lo == 0 && fx_hi == g.filter_w) {
          for (int32_t i = 0; i < n; ++i) acc[i] = bias[i];
          const TapOffsets inside = {image + (y0 * a.in_w + x0) * a.in_depth, tap_offset};
          DepthwisePixelSse2(inside, pairs, wp, n, dm, c0, ic0, a.input_offset, acc);
          RequantizeRowSse2(
              requant, q, acc, n, a.output_offset, a.act_min, a.act_max,
              a.output + ((b * g.out_h + out_y) * g.out_w + out_x) * a.out_depth + c0);
          continue;
        }
        // The tap list, row by row, without a test per tap.
        const int8_t** t = tap;
        for (int32_t fy = 0; fy < g.filter_h; ++fy, t += g.filter_w) {
          if (fy < fy_lo || fy >= fy_hi) {
            for (int32_t fx = 0; fx < g.filter_w; ++fx) t[fx] = zero_points;
            continue;
          }
          const int32_t step = g.dilation_w * a.in_depth;
          const int8_t* px =
              image + ((y0 + g.dilation_h * fy) * a.in_w + x0 + g.dilation_w * fx_lo) * a.in_depth;
          for (int32_t fx = 0; fx < fx_lo; ++fx) t[fx] = zero_points;
          for (int32_t fx = fx_lo; fx < fx_hi; ++fx, px += step) t[fx] = px;
          for (int32_t fx = fx_hi; fx < g.filter_w; ++fx) t[fx] = zero_points;
        }
        for (int32_t i = 0; i < n; ++i) acc[i] = bias[i];
        DepthwisePixelSse2(TapList{tap}, pairs, wp, n, dm, c0, ic0, a.input_offset, acc);
        RequantizeRowSse2(requant, q, acc, n, a.output_offset, a.act_min, a.act_max,
                          a.output + ((b * g.out_h + out_y) * g.out_w + out_x) * a.out_depth + c0);
      }
    }
  }
}
#endif

// Returns false, having written nothing, when the optimized path does not apply.
// `cached`: the op's per-channel constants inside a patch-based stage (else nullptr).
inline bool DepthwiseInt8Optimized(const DepthwiseInt8Args& args, const TensorView& input,
                                   const TensorView& filter, const TensorView& output,
                                   const BandConstantsView* cached = nullptr) {
  // Local copies: stores through int8_t* may alias any memory, and fields read through a
  // reference would be reloaded after every output byte.
  const DepthwiseInt8Args a = args;
  const WindowGeometry g = a.g;
  if (cached != nullptr ? !cached->scales_positive : !ScalesArePositive(filter, a.out_depth)) {
    return false;
  }
  const int32_t taps = g.filter_h * g.filter_w;
  const int32_t dm = a.depth_multiplier;
#if MD_KERNELS_ARM_DSP
  // With MD_KERNELS_NO_DEPTHWISE_FALLBACK (path_variants.h) only the 3x3 path below is linked:
  // prepare accepted only ops it serves whole (DepthwiseDspPathServes); the caller fails the
  // invoke if another gets here. The flags below are then constants and the rest drops out.
  constexpr bool kAll3x3 = !kDepthwiseFallbackLinked;
  const bool is3x3 = kAll3x3 || (g.filter_h == 3 && g.filter_w == 3);
  const bool dsp_dm = kAll3x3 || dm == 1 || dm % 4 == 0;
  // Clipped 3x3 windows read taps outside the input from a row of zero points (int8 zero
  // points only: the base's offset must cancel x exactly).
  const bool border_taps = kAll3x3 || (a.input_offset >= -127 && a.input_offset <= 128);
  if (kAll3x3 && !(g.filter_h == 3 && g.filter_w == 3 && (dm == 1 || dm % 4 == 0) &&
                   a.out_depth % 4 == 0 && a.input_offset >= -127 && a.input_offset <= 128)) {
    return false;
  }
#endif
  Requant q[kChannelChunk];
  [[maybe_unused]] int32_t shifts[kChannelChunk];  // the shifts q was made from (DSP path)
  uint32_t bias[kChannelChunk];
  uint32_t base[kChannelChunk];
  uint32_t acc[kChannelChunk];
  // Inside a stage the multipliers come from the op's constants (cached).
  const OptMultipliers multipliers(input.scale, output.scale, cached == nullptr);
#if MD_KERNELS_SSE2
  const bool sse = SseOffsetOk(a.input_offset) && taps < kDwSseMaxTaps && (dm == 1 || dm % 4 == 0);
#endif
  for (int32_t c0 = 0; c0 < a.out_depth; c0 += kChannelChunk) {
    const int32_t c1 = c0 + kChannelChunk < a.out_depth ? c0 + kChannelChunk : a.out_depth;
    const int32_t n = c1 - c0;
    for (int32_t oc = c0; oc < c1; ++oc) {
      if (cached != nullptr) {
        const BandChannel& ch = cached->channel[oc];
        q[oc - c0] = MakeRequant(ch.multiplier, ch.shift);
        shifts[oc - c0] = ch.shift;
        bias[oc - c0] = a.bias != nullptr ? static_cast<uint32_t>(a.bias[oc]) : 0u;
        base[oc - c0] = ch.base;
        continue;
      }
      int32_t multiplier;
      int shift;
      multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
      q[oc - c0] = MakeRequant(multiplier, shift);
      shifts[oc - c0] = shift;
      bias[oc - c0] = a.bias != nullptr ? static_cast<uint32_t>(a.bias[oc]) : 0u;
#if MD_KERNELS_SSE2
      if (sse) continue;  // no filter sums: the SSE2 path adds the offset to the inputs
#endif
      uint32_t filter_sum = 0;
      for (int32_t t = 0; t < taps; ++t) {
        filter_sum += static_cast<uint32_t>(static_cast<int32_t>(a.filter[t * a.out_depth + oc]));
      }
      base[oc - c0] = bias[oc - c0] + static_cast<uint32_t>(a.input_offset) * filter_sum;
    }
#if MD_KERNELS_SSE2
    if (sse) {
      DepthwiseChunkSse2(a, q, bias, c0, c1);
      continue;
    }
#endif
    const bool simple = AllRequantsSimple(q, n);
#if MD_KERNELS_ARM_DSP
    // The three-instruction requantization of int8_opt.h (acc doubled by one shift) when
    // every channel allows it and no accumulator can reach 2^30 (|bias| + taps x 128 x 255
    // bounds it); `fused` also needs every right shift <= 22 and the full int8 range.
    DoubledRequant doubled[kChannelChunk];
    bool use_doubled = true, fused = a.act_min <= -128 && a.act_max >= 127 &&
                                     a.output_offset >= -128 && a.output_offset <= 127;
    const int64_t bias_limit =
        (static_cast<int64_t>(1) << 30) - static_cast<int64_t>(taps) * 128 * 255;
    for (int32_t i = 0; i < n && use_doubled; ++i) {
      const int64_t bv = static_cast<int32_t>(bias[i]);
      const int32_t e = DoubledRequantShift(q[i].multiplier, shifts[i]);
      use_doubled = e != 0 && (bv < 0 ? -bv : bv) < bias_limit;
      fused = fused && e <= 22;
    }
    if (kAll3x3 && !use_doubled) return false;
    for (int32_t i = 0; i < n && use_doubled; ++i) {
      MakeDoubledRequant(q[i].multiplier, shifts[i], a.output_offset, fused, &doubled[i]);
    }
    uint32_t widened[kChannelChunk / 4 * kDw3x3Words];
    if (is3x3 && dsp_dm) Widen3x3Filters(a.filter, a.out_depth, c0, n, widened);
    int8_t zero_points[kChannelChunk + 4];
    std::memset(zero_points, static_cast<int8_t>(-a.input_offset), sizeof(zero_points));
#endif
    for (int32_t b = 0; b < a.batches; ++b) {
      const int8_t* image = a.input + b * a.in_h * a.in_w * a.in_depth;
      for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
        const int32_t y0 = out_y * g.stride_h - g.pad_h;
        int32_t fy_lo = 0, fy_hi = g.filter_h;
        while (fy_lo < fy_hi && y0 + g.dilation_h * fy_lo < 0) ++fy_lo;
        while (fy_hi > fy_lo && y0 + g.dilation_h * (fy_hi - 1) >= a.in_h) --fy_hi;
        for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
          const int32_t x0 = out_x * g.stride_w - g.pad_w;
          int32_t fx_lo = 0, fx_hi = g.filter_w;
          while (fx_lo < fx_hi && x0 + g.dilation_w * fx_lo < 0) ++fx_lo;
          while (fx_hi > fx_lo && x0 + g.dilation_w * (fx_hi - 1) >= a.in_w) --fx_hi;
          const bool full = fy_lo == 0 && fy_hi == g.filter_h && fx_lo == 0 && fx_hi == g.filter_w;
          int32_t c = 0;
#if MD_KERNELS_ARM_DSP
          if (full && dsp_dm) {
            const int8_t* origin = image + (y0 * a.in_w + x0) * a.in_depth;
            const int32_t step_x = g.dilation_w * a.in_depth;
            const int32_t step_y = g.dilation_h * a.in_w * a.in_depth;
            if (is3x3) {
              for (; c + 4 <= n; c += 4) {
                const uint32_t* w = widened + c / 4 * kDw3x3Words;
                if (dm == 1) {
                  DepthwiseFourChannels3x3Dsp<false>(origin + c0 + c, step_x, step_y, w, base + c,
                                                     acc + c);
                } else {
                  DepthwiseFourChannels3x3Dsp<true>(origin + (c0 + c) / dm, step_x, step_y, w,
                                                    base + c, acc + c);
                }
              }
            }
            for (; !kAll3x3 && c + 4 <= n; c += 4) {
              const int8_t* f = a.filter + c0 + c;
              if (dm == 1) {
                DepthwiseFourChannelsDsp<false>(origin + c0 + c, f, g.filter_h, g.filter_w, step_x,
                                                step_y, a.out_depth, base + c, acc + c);
              } else {
                DepthwiseFourChannelsDsp<true>(origin + (c0 + c) / dm, f, g.filter_h, g.filter_w,
                                               step_x, step_y, a.out_depth, base + c, acc + c);
              }
            }
          } else if (!full && is3x3 && border_taps && dsp_dm) {
            // Taps relative to the chunk's first input channel ic0; outside: zero points.
            const int32_t ic0 = c0 / dm;
            const int8_t* taps3x3[9];
            for (int32_t fy = 0; fy < 3; ++fy) {
              const int32_t in_y = y0 + g.dilation_h * fy;
              for (int32_t fx = 0; fx < 3; ++fx) {
                const int32_t in_x = x0 + g.dilation_w * fx;
                const bool inside = in_y >= 0 && in_y < a.in_h && in_x >= 0 && in_x < a.in_w;
                taps3x3[fy * 3 + fx] =
                    inside ? image + (in_y * a.in_w + in_x) * a.in_depth + ic0 : zero_points;
              }
            }
            for (; c + 4 <= n; c += 4) {
              const uint32_t* w = widened + c / 4 * kDw3x3Words;
              if (dm == 1) {
                DepthwiseFourChannels3x3ListDsp<false>(taps3x3, c, w, base + c, acc + c);
              } else {
                DepthwiseFourChannels3x3ListDsp<true>(taps3x3, (c0 + c) / dm - ic0, w, base + c,
                                                      acc + c);
              }
            }
          }
#endif
          // The generic taps: channels left by the DSP paths (none with kAll3x3).
          if (!kDepthwiseFallbackLinked) c = n;
          for (int32_t i = c; i < n; ++i) acc[i] = full ? base[i] : bias[i];
          // With the offset in the base, the taps add plain products.
          const int32_t tap_offset = full ? 0 : a.input_offset;
          // Inputs plus tap_offset within +-255 (TapRowBroadcast's condition).
          const bool narrow = kNarrowTaps && tap_offset >= -127 && tap_offset <= 128;
          if (c < n) {
            for (int32_t fy = fy_lo; fy < fy_hi; ++fy) {
              const int32_t in_y = y0 + g.dilation_h * fy;
              for (int32_t fx = fx_lo; fx < fx_hi; ++fx) {
                const int32_t in_x = x0 + g.dilation_w * fx;
                const int8_t* in_px = image + (in_y * a.in_w + in_x) * a.in_depth;
                const int8_t* f = a.filter + (fy * g.filter_w + fx) * a.out_depth + c0;
                if (dm == 1) {
                  TapRowAny(in_px + c0 + c, f + c, tap_offset, n - c, acc + c);
                } else {
                  // Output channel oc reads input channel oc / dm: one input value per run
                  // of channels.
                  int32_t ic = (c0 + c) / dm, i = c;
                  int32_t run_end = (ic + 1) * dm - c0;
                  while (i < n) {
                    const int32_t x = static_cast<int32_t>(in_px[ic]) + tap_offset;
                    const int32_t end = run_end < n ? run_end : n;
                    // Blocks of 8 with a fixed trip count (the vectorizer's), then the rest.
                    if (narrow) {
                      for (; i + 8 <= end; i += 8) TapRowBroadcast<8>(x, f + i, acc + i);
                    }
                    for (; i < end; ++i) {
                      acc[i] += static_cast<uint32_t>(x * static_cast<int32_t>(f[i]));
                    }
                    ++ic;
                    run_end += dm;
                  }
                }
              }
            }
          }
          int8_t* out = a.output + ((b * g.out_h + out_y) * g.out_w + out_x) * a.out_depth + c0;
#if MD_KERNELS_ARM_DSP
          if (kAll3x3 || use_doubled) {
            if (fused) {
              RequantizeRowDoubled<true>(doubled, acc, n, 0, 0, 0, out);
            } else {
              RequantizeRowDoubled<false>(doubled, acc, n, a.output_offset, a.act_min, a.act_max,
                                          out);
            }
            continue;
          }
#endif
          if (simple) {
            for (int32_t i = 0; i < n; ++i) {
              out[i] = RequantizeToInt8<true>(q[i], acc[i], a.output_offset, a.act_min, a.act_max);
            }
          } else {
            for (int32_t i = 0; i < n; ++i) {
              out[i] = RequantizeToInt8(q[i], acc[i], a.output_offset, a.act_min, a.act_max);
            }
          }
        }
      }
    }
  }
  return true;
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_DEPTHWISE_CONV_2D_OPT_H_
