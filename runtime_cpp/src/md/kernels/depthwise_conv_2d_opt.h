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

#include "md/kernels/band_constants.h"
#include "md/kernels/conv_2d_opt.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
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

inline void TapRowAny(const int8_t* in, const int8_t* f, int32_t offset, int32_t n, uint32_t* acc) {
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
  Requant q[kChannelChunk];
  uint32_t bias[kChannelChunk];
  uint32_t base[kChannelChunk];
  uint32_t acc[kChannelChunk];
  for (int32_t c0 = 0; c0 < a.out_depth; c0 += kChannelChunk) {
    const int32_t c1 = c0 + kChannelChunk < a.out_depth ? c0 + kChannelChunk : a.out_depth;
    const int32_t n = c1 - c0;
    for (int32_t oc = c0; oc < c1; ++oc) {
      if (cached != nullptr) {
        const BandChannel& ch = cached->channel[oc];
        q[oc - c0] = MakeRequant(ch.multiplier, ch.shift);
        bias[oc - c0] = a.bias != nullptr ? static_cast<uint32_t>(a.bias[oc]) : 0u;
        base[oc - c0] = ch.base;
        continue;
      }
      int32_t multiplier;
      int shift;
      OptChannelMultiplier(input.scale, ChannelScaleOf(filter, oc), output.scale, &multiplier,
                           &shift);
      q[oc - c0] = MakeRequant(multiplier, shift);
      bias[oc - c0] = a.bias != nullptr ? static_cast<uint32_t>(a.bias[oc]) : 0u;
      uint32_t filter_sum = 0;
      for (int32_t t = 0; t < taps; ++t) {
        filter_sum += static_cast<uint32_t>(static_cast<int32_t>(a.filter[t * a.out_depth + oc]));
      }
      base[oc - c0] = bias[oc - c0] + static_cast<uint32_t>(a.input_offset) * filter_sum;
    }
    const bool simple = AllRequantsSimple(q, n);
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
          if (full && (dm == 1 || dm % 4 == 0)) {
            const int8_t* origin = image + (y0 * a.in_w + x0) * a.in_depth;
            const int32_t step_x = g.dilation_w * a.in_depth;
            const int32_t step_y = g.dilation_h * a.in_w * a.in_depth;
            for (; c + 4 <= n; c += 4) {
              const int8_t* f = a.filter + c0 + c;
              if (dm == 1) {
                DepthwiseFourChannelsDsp<false>(origin + c0 + c, f, g.filter_h, g.filter_w, step_x,
                                                step_y, a.out_depth, base + c, acc + c);
              } else {
                DepthwiseFourChannelsDsp<true>(origin + (c0 + c) / dm, f, g.filter_h, g.filter_w,
                                               step_x, step_y, a.out_depth, base + c, acc + c);
              }
            }
          }
#endif
          for (int32_t i = c; i < n; ++i) acc[i] = full ? base[i] : bias[i];
          // With the offset in the base, the taps add plain products.
          const int32_t tap_offset = full ? 0 : a.input_offset;
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
