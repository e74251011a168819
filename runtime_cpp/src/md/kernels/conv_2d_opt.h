// Optimized int8 CONV_2D (see int8_opt.h for the selection and the bit-exactness argument).
//
// The input zero point is folded out of the inner loops: sum_k w * (x + offset) =
// sum_k w * x + offset * sum_k w, where the filter sum runs over the taps inside the input
// (padding contributes nothing, as in TFLM). For an output pixel whose window lies inside
// the input, bias + offset * (whole filter sum) is one per-channel constant ("base"), so the
// inner loop is a pure int8 x int8 dot product over contiguous memory: with dilation 1 one
// filter row (filter_w x depth values) matches filter_w adjacent input pixels.
//
// 1x1 convolutions with stride 1 and no padding are a matrix product of the pixels
// [P, K] by the filters [C, K]; on the Cortex-M DSP path they run in pointwise_dsp.h (input
// offset folded into the widened pixels, three-instruction requantization) when its
// conditions hold, else in PointwiseChunk: four pixels at a time widened to int16 pairs once
// in a stack buffer, then each filter word (SXTB16 twice) feeds eight SMLADs.
//
// Nothing goes into the arena: per-channel data live on the stack for chunks of
// kChannelChunk channels, computed once per invoke.
#ifndef MD_KERNELS_CONV_2D_OPT_H_
#define MD_KERNELS_CONV_2D_OPT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "md/kernels/band_constants.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/kernels/int8_sse2.h"
#include "md/kernels/path_variants.h"
#include "md/kernels/pointwise_dsp.h"
#include "md/kernels/pointwise_layer_dsp.h"
#include "md/kernels/pointwise_shallow_dsp.h"
#include "md/tensor.h"

namespace md {
namespace opt {

struct ConvInt8Args {
  const int8_t* input;
  const int8_t* filter;  // [out_depth, filter_h, filter_w, depth]
  const int32_t* bias;   // may be nullptr
  int8_t* output;
  int32_t batches, in_h, in_w, depth, out_depth;
  WindowGeometry g;
  int32_t input_offset, output_offset, act_min, act_max;
};

// 1x1, stride 1, no padding (output the input's size): a matrix product.
inline bool IsPointwise(const ConvInt8Args& a) {
  const WindowGeometry& g = a.g;
  return g.filter_h == 1 && g.filter_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
         g.pad_w == 0 && g.out_h == a.in_h && g.out_w == a.in_w;
}

// Per-channel constants of one chunk.
struct ChannelConstants {
  Requant q[kChannelChunk];
  uint32_t bias[kChannelChunk];  // bias (0 without one)
  uint32_t base[kChannelChunk];  // bias + input_offset * sum of the whole filter
};

// with_base false: `base` is left unset (the SSE2 paths add the offset to the inputs instead).
inline void FillChannelConstants(const OptMultipliers& multipliers, const TensorView& filter,
                                 const int8_t* filter_data, const int32_t* bias,
                                 int32_t filter_size, int32_t input_offset, int32_t c0, int32_t c1,
                                 ChannelConstants* k, bool with_base = true) {
  for (int32_t oc = c0; oc < c1; ++oc) {
    int32_t multiplier;
    int shift;
    multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
    k->q[oc - c0] = MakeRequant(multiplier, shift);
    const uint32_t b = bias != nullptr ? static_cast<uint32_t>(bias[oc]) : 0u;
    k->bias[oc - c0] = b;
    if (with_base) {
      k->base[oc - c0] = b + static_cast<uint32_t>(input_offset) *
                                 Sum(filter_data + oc * filter_size, filter_size);
    }
  }
}

// The same constants from a patch-based stage's area (band_constants.h), computed once per op.
inline void LoadChannelConstants(const BandConstantsView& cached, const int32_t* bias, int32_t c0,
                                 int32_t c1, ChannelConstants* k) {
  for (int32_t oc = c0; oc < c1; ++oc) {
    const BandChannel& ch = cached.channel[oc];
    k->q[oc - c0] = MakeRequant(ch.multiplier, ch.shift);
    k->bias[oc - c0] = bias != nullptr ? static_cast<uint32_t>(bias[oc]) : 0u;
    k->base[oc - c0] = ch.base;
  }
}

#if MD_KERNELS_ARM_DSP
static_assert(kDspPathMaxDepth == kPointwiseMaxDepth && kDspPathChunk == kPointwiseChunk,
              "path_variants.h states the DSP 1x1 path's limits");

// Largest depth the 4-pixel DSP block widens on the stack (4 x 256 x 2 bytes).
constexpr int32_t kDspMaxDepth = 256;

// Widens pixels p[0..3] (depth values each, depth a multiple of 4) into `buf`: for every
// 4 values, 2 words per pixel, pixels side by side, so one block's 8 words are adjacent.
inline void WidenFourPixels(const int8_t* const p[4], int32_t depth, uint32_t* buf) {
  for (int32_t k = 0; k < depth; k += 4) {
    for (int32_t i = 0; i < 4; ++i) {
      const uint32_t w = LoadWord(p[i] + k);
      buf[2 * i] = Sxtb16(w);
      buf[2 * i + 1] = Sxtb16Ror8(w);
    }
    buf += 8;
  }
}

// acc[i] += sum_k filter[k] * pixel_i[k] for the 4 widened pixels (depth a multiple of 4).
// Per 4 values: one filter word split by two SXTB16, the 4 pixels' 8 words by two LDMs,
// 8 SMLADs: 15 instructions with the loop for 16 MACs. Written in assembly because GCC
// neither emits LDM here nor folds the rotation into SXTB16; r4-r6 and r8 hold the loaded
// words (LDM's list must be ascending; r7 may be the frame pointer).
inline void DotFourPixelsDsp(const int8_t* filter, const uint32_t* buf, int32_t depth,
                             int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if defined(__OPTIMIZE__)  // unoptimized builds keep a frame pointer: too few registers
  int32_t blocks = depth / 4;
  uint32_t w, w02;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[w], [%[f]], #4\n\t"
      "ldmia %[buf]!, {r4, r5, r6, r8}\n\t"
      "sxtb16 %[w02], %[w]\n\t"
      "sxtb16 %[w], %[w], ror #8\n\t"
      "smlad %[a0], %[w02], r4, %[a0]\n\t"
      "smlad %[a0], %[w], r5, %[a0]\n\t"
      "smlad %[a1], %[w02], r6, %[a1]\n\t"
      "smlad %[a1], %[w], r8, %[a1]\n\t"
      "ldmia %[buf]!, {r4, r5, r6, r8}\n\t"
      "smlad %[a2], %[w02], r4, %[a2]\n\t"
      "smlad %[a2], %[w], r5, %[a2]\n\t"
      "smlad %[a3], %[w02], r6, %[a3]\n\t"
      "smlad %[a3], %[w], r8, %[a3]\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [f] "+r"(filter),
        [buf] "+r"(buf), [n] "+r"(blocks), [w] "=&r"(w), [w02] "=&r"(w02)
      :
      : "r4", "r5", "r6", "r8", "cc", "memory");
#else
  for (int32_t k = 0; k < depth; k += 4) {
    const uint32_t w = LoadWord(filter + k);
    const uint32_t w02 = Sxtb16(w), w13 = Sxtb16Ror8(w);
    a0 = SmladPairs(w13, buf[1], SmladPairs(w02, buf[0], a0));
    a1 = SmladPairs(w13, buf[3], SmladPairs(w02, buf[2], a1));
    a2 = SmladPairs(w13, buf[5], SmladPairs(w02, buf[4], a2));
    a3 = SmladPairs(w13, buf[7], SmladPairs(w02, buf[6], a3));
    buf += 8;
  }
#endif
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
#endif

// 1x1, stride 1, no padding: out[p][oc] for every pixel p, channels [c0, c1).
// `a` and the geometry are taken by value: stores through int8_t* may alias any memory, and
// fields read through a reference would be reloaded after every output byte.
__attribute__((noinline)) inline void PointwiseChunk(const ConvInt8Args a,
                                                     const ChannelConstants& k, int32_t c0,
                                                     int32_t c1) {
  const int32_t pixels = a.batches * a.in_h * a.in_w;
  const int32_t depth = a.depth;
  const bool simple = AllRequantsSimple(k.q, c1 - c0);
  int32_t p = 0;
#if MD_KERNELS_ARM_DSP
  if (depth % 4 == 0 && depth <= kDspMaxDepth) {
    uint32_t buf[2 * kDspMaxDepth];
    for (; p + 4 <= pixels; p += 4) {
      const int8_t* px[4] = {a.input + p * depth, a.input + (p + 1) * depth,
                             a.input + (p + 2) * depth, a.input + (p + 3) * depth};
      WidenFourPixels(px, depth, buf);
      int8_t* out = a.output + p * a.out_depth;
      for (int32_t oc = c0; oc < c1; ++oc) {
        const int32_t b = static_cast<int32_t>(k.base[oc - c0]);
        int32_t acc[4] = {b, b, b, b};
        DotFourPixelsDsp(a.filter + oc * depth, buf, depth, acc);
        const Requant& q = k.q[oc - c0];
        if (simple) {
          for (int32_t i = 0; i < 4; ++i) {
            out[i * a.out_depth + oc] = RequantizeToInt8<true>(
                q, static_cast<uint32_t>(acc[i]), a.output_offset, a.act_min, a.act_max);
          }
        } else {
          for (int32_t i = 0; i < 4; ++i) {
            out[i * a.out_depth + oc] = RequantizeToInt8(q, static_cast<uint32_t>(acc[i]),
                                                         a.output_offset, a.act_min, a.act_max);
          }
        }
      }
    }
  }
#endif
  for (; p < pixels; ++p) {
    const int8_t* in = a.input + p * depth;
    int8_t* out = a.output + p * a.out_depth;
    for (int32_t oc = c0; oc < c1; ++oc) {
      const uint32_t acc = k.base[oc - c0] + Dot(in, a.filter + oc * depth, depth);
      out[oc] =
          simple ? RequantizeToInt8<true>(k.q[oc - c0], acc, a.output_offset, a.act_min, a.act_max)
                 : RequantizeToInt8(k.q[oc - c0], acc, a.output_offset, a.act_min, a.act_max);
    }
  }
}

// Largest window (filter_h x filter_w x depth) gathered into a stack patch.
constexpr int32_t kPatchMax = 512;

// Any window: one output pixel at a time, channels [c0, c1).
__attribute__((noinline)) inline void WindowChunk(const ConvInt8Args a, const ChannelConstants& k,
                                                  int32_t c0, int32_t c1) {
  const WindowGeometry g = a.g;
  const int32_t depth = a.depth;
  const int32_t filter_size = g.filter_h * g.filter_w * depth;
  const bool simple = AllRequantsSimple(k.q, c1 - c0);
  // The input zero point (-input_offset) fills the patch's taps outside the input.
  const bool use_patch =
      filter_size <= kPatchMax && a.input_offset >= -127 && a.input_offset <= 128;
  const int8_t zero_point = static_cast<int8_t>(use_patch ? -a.input_offset : 0);
  int8_t patch[kPatchMax];
  for (int32_t b = 0; b < a.batches; ++b) {
    const int8_t* image = a.input + b * a.in_h * a.in_w * depth;
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t y0 = out_y * g.stride_h - g.pad_h;
      // Valid taps are a contiguous range [fy_lo, fy_hi) (in_y grows with fy).
      int32_t fy_lo = 0, fy_hi = g.filter_h;
      while (fy_lo < fy_hi && y0 + g.dilation_h * fy_lo < 0) ++fy_lo;
      while (fy_hi > fy_lo && y0 + g.dilation_h * (fy_hi - 1) >= a.in_h) --fy_hi;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t x0 = out_x * g.stride_w - g.pad_w;
        int32_t fx_lo = 0, fx_hi = g.filter_w;
        while (fx_lo < fx_hi && x0 + g.dilation_w * fx_lo < 0) ++fx_lo;
        while (fx_hi > fx_lo && x0 + g.dilation_w * (fx_hi - 1) >= a.in_w) --fx_hi;
        const bool full = fy_lo == 0 && fy_hi == g.filter_h && fx_lo == 0 && fx_hi == g.filter_w;
        int8_t* out = a.output + ((b * g.out_h + out_y) * g.out_w + out_x) * a.out_depth;
        if (use_patch) {
          // Gather the window into one patch (taps outside the input hold the input zero
          // point, whose offset-corrected value is 0): then every output channel is one
          // contiguous dot product with the whole-filter base, however small the depth.
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = y0 + g.dilation_h * fy;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = x0 + g.dilation_w * fx;
              int8_t* dst = patch + (fy * g.filter_w + fx) * depth;
              if (in_y < 0 || in_y >= a.in_h || in_x < 0 || in_x >= a.in_w) {
                for (int32_t i = 0; i < depth; ++i) dst[i] = zero_point;
              } else {
                const int8_t* src = image + (in_y * a.in_w + in_x) * depth;
                for (int32_t i = 0; i < depth; ++i) dst[i] = src[i];
              }
            }
          }
          for (int32_t oc = c0; oc < c1; ++oc) {
            const uint32_t acc =
                k.base[oc - c0] + Dot(patch, a.filter + oc * filter_size, filter_size);
            out[oc] =
                simple ? RequantizeToInt8<true>(k.q[oc - c0], acc, a.output_offset, a.act_min,
                                                a.act_max)
                       : RequantizeToInt8(k.q[oc - c0], acc, a.output_offset, a.act_min, a.act_max);
          }
          continue;
        }
        for (int32_t oc = c0; oc < c1; ++oc) {
          const int8_t* f = a.filter + oc * filter_size;
          uint32_t acc = full ? k.base[oc - c0] : k.bias[oc - c0];
          uint32_t filter_sum = 0;  // of the taps inside, for a clipped window
          for (int32_t fy = fy_lo; fy < fy_hi; ++fy) {
            const int32_t in_y = y0 + g.dilation_h * fy;
            const int8_t* f_row = f + fy * g.filter_w * depth;
            if (g.dilation_w == 1) {
              const int32_t len = (fx_hi - fx_lo) * depth;
              const int8_t* in_row = image + (in_y * a.in_w + x0 + fx_lo) * depth;
              acc += Dot(in_row, f_row + fx_lo * depth, len);
              if (!full) filter_sum += Sum(f_row + fx_lo * depth, len);
            } else {
              for (int32_t fx = fx_lo; fx < fx_hi; ++fx) {
                const int8_t* in_px = image + (in_y * a.in_w + x0 + g.dilation_w * fx) * depth;
                acc += Dot(in_px, f_row + fx * depth, depth);
                if (!full) filter_sum += Sum(f_row + fx * depth, depth);
              }
            }
          }
          if (!full) acc += static_cast<uint32_t>(a.input_offset) * filter_sum;
          out[oc] = RequantizeToInt8(k.q[oc - c0], acc, a.output_offset, a.act_min, a.act_max);
        }
      }
    }
  }
}

#if MD_KERNELS_SSE2
// Any window (1x1 included), SSE2: channels [c0, c1) of one output pixel are dot products of
// four filters at a time with the pixel's window (input offset added to the inputs; taps
// outside the input are the zero point in the patch, or skipped by the row ranges).
inline void ConvChunkSse2(const ConvInt8Args a, const ChannelConstants& k, int32_t c0, int32_t c1) {
  const WindowGeometry g = a.g;
  const int32_t depth = a.depth;
  const int32_t n = c1 - c0;
  const int32_t filter_size = g.filter_h * g.filter_w * depth;
  const int8_t* filters = a.filter + c0 * filter_size;
  const bool pointwise = g.filter_h == 1 && g.filter_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                         g.pad_h == 0 && g.pad_w == 0;
  const bool use_patch = !pointwise && filter_size <= kPatchMax;
  const int8_t zero_point = static_cast<int8_t>(-a.input_offset);
  int8_t patch[kPatchMax];
  uint32_t acc[kChannelChunk];
  RequantSse2 requant;
  PrepareRequantSse2(k.q, n, a.output_offset, &requant);
  for (int32_t b = 0; b < a.batches; ++b) {
    const int8_t* image = a.input + b * a.in_h * a.in_w * depth;
    for (int32_t out_y = 0; out_y < g.out_h; ++out_y) {
      const int32_t y0 = out_y * g.stride_h - g.pad_h;
      int32_t fy_lo = 0, fy_hi = g.filter_h;
      while (fy_lo < fy_hi && y0 + g.dilation_h * fy_lo < 0) ++fy_lo;
      while (fy_hi > fy_lo && y0 + g.dilation_h * (fy_hi - 1) >= a.in_h) --fy_hi;
      for (int32_t out_x = 0; out_x < g.out_w; ++out_x) {
        const int32_t x0 = out_x * g.stride_w - g.pad_w;
        int8_t* out = a.output + ((b * g.out_h + out_y) * g.out_w + out_x) * a.out_depth + c0;
        for (int32_t i = 0; i < n; ++i) acc[i] = k.bias[i];
        if (pointwise) {
          DotRowsSse2(image + (y0 * a.in_w + x0) * depth, a.input_offset, filters, filter_size,
                      depth, n, acc);
        } else if (use_patch) {
          for (int32_t fy = 0; fy < g.filter_h; ++fy) {
            const int32_t in_y = y0 + g.dilation_h * fy;
            for (int32_t fx = 0; fx < g.filter_w; ++fx) {
              const int32_t in_x = x0 + g.dilation_w * fx;
              int8_t* dst = patch + (fy * g.filter_w + fx) * depth;
              if (in_y < 0 || in_y >= a.in_h || in_x < 0 || in_x >= a.in_w) {
                std::memset(dst, zero_point, static_cast<size_t>(depth));
              } else {
                std::memcpy(dst, image + (in_y * a.in_w + in_x) * depth,
                            static_cast<size_t>(depth));
              }
            }
          }
          DotRowsSse2(patch, a.input_offset, filters, filter_size, filter_size, n, acc);
        } else {
          int32_t fx_lo = 0, fx_hi = g.filter_w;
          while (fx_lo < fx_hi && x0 + g.dilation_w * fx_lo < 0) ++fx_lo;
          while (fx_hi > fx_lo && x0 + g.dilation_w * (fx_hi - 1) >= a.in_w) --fx_hi;
          for (int32_t fy = fy_lo; fy < fy_hi; ++fy) {
            const int32_t in_y = y0 + g.dilation_h * fy;
            const int8_t* f_row = filters + fy * g.filter_w * depth;
            if (g.dilation_w == 1) {
              DotRowsSse2(image + (in_y * a.in_w + x0 + fx_lo) * depth, a.input_offset,
                          f_row + fx_lo * depth, filter_size, (fx_hi - fx_lo) * depth, n, acc);
            } else {
              for (int32_t fx = fx_lo; fx < fx_hi; ++fx) {
                DotRowsSse2(image + (in_y * a.in_w + x0 + g.dilation_w * fx) * depth,
                            a.input_offset, f_row + fx * depth, filter_size, depth, n, acc);
              }
            }
          }
        }
        RequantizeRowSse2(requant, k.q, acc, n, a.output_offset, a.act_min, a.act_max, out);
      }
    }
  }
}
#endif

#if MD_KERNELS_ARM_DSP
// True, with the value in *out, when a channel's output is the same for every input: the
// requantization is monotonic in the accumulator (multiplier >= 0, a right shift e), so equal
// outputs at both ends of its reach, bias +- depth x 128 x 255 (inside int32: TFLM's sum does
// not wrap), are the output everywhere. vww_96_int8's dead channels (tiny scales, +-2^30
// biases) are such and skip the dot product. Not inlined: it runs for those channels only.
__attribute__((noinline)) inline bool PointwiseConstantOutput(const ConvInt8Args& a, int32_t depth,
                                                              int32_t bias, int32_t multiplier,
                                                              int32_t e, int32_t* out) {
  const int64_t reach = static_cast<int64_t>(depth) * 32640;
  if (bias - reach < INT32_MIN || bias + reach > INT32_MAX) return false;
  const Requant q = MakeRequant(multiplier, -e);
  const int8_t lo = RequantizeToInt8(q, static_cast<uint32_t>(bias - reach), a.output_offset,
                                     a.act_min, a.act_max);
  const int8_t hi = RequantizeToInt8(q, static_cast<uint32_t>(bias + reach), a.output_offset,
                                     a.act_min, a.act_max);
  *out = lo;
  return lo == hi;
}

// The rows of the 1x1 DSP path for an op: its depth (im2col: the window rounded up to a
// multiple of 4) and whether the filters need padded rows.
inline int32_t PointwiseRowDepth(const ConvInt8Args& a, bool window, bool* pad_filters) {
  const int32_t filter_size = a.g.filter_h * a.g.filter_w * a.depth;
  const int32_t depth = window ? (filter_size + 3) / 4 * 4 : a.depth;
  *pad_filters = depth != filter_size;
  return depth;
}

// A channel of a patch-based stage's constants area in the 1x1 DSP path's form (flag
// kBandPointwiseForm, band_constants.h): the shift e is the addend's trailing zeros + 1 (the
// addend is (1 + 2 o) 2^(e-1) or 2^(e-1)), the kind fused for e <= 22, unfused above. Same
// size as BandChannel, so the area keeps its size.
struct PointwiseBandChannel {
  int32_t bias2;  // 2 x bias
  int32_t multiplier;
  int32_t addend;
};
static_assert(sizeof(PointwiseBandChannel) == sizeof(BandChannel), "same area size");

// True when the channel takes PointwiseDspChunkRuns' common case: multiplier in [2^30, 2^31),
// right shift e = -shift in 1..31, |bias| below the limit (full range checked by the caller).
inline bool PointwiseCommonChannel(int32_t multiplier, int shift, int32_t bias,
                                   uint32_t bias_limit) {
  const uint32_t e = 0u - static_cast<uint32_t>(shift);
  const uint32_t magnitude =
      bias < 0 ? 0u - static_cast<uint32_t>(bias) : static_cast<uint32_t>(bias);
  return multiplier >= (static_cast<int32_t>(1) << 30) && e - 1u < 31u && magnitude < bias_limit;
}

// Called on the op's first band, right after the area was filled: when every chunk of the op
// takes the DSP path and every channel its common case, rewrites the records into
// PointwiseBandChannel form and sets kBandPointwiseForm, so that the later bands copy them
// into the chunk's constants instead of deriving them (about 20 instructions per channel and
// band instead of 47). Returns whether it did; the area is left as it was otherwise. Not
// inlined: once per op and Invoke.
__attribute__((noinline)) inline bool PointwiseBandForm(void* area, const ConvInt8Args& a,
                                                        bool window) {
  uint8_t* const bytes = static_cast<uint8_t*>(area);
  const BandConstantsView view = ReadBandConstants(area);
  bool pad_filters;
  const int32_t depth = PointwiseRowDepth(a, window, &pad_filters);
  const int32_t widest = a.out_depth < kPointwiseChunk ? a.out_depth : kPointwiseChunk;
  if (!view.scales_positive || a.act_min > -128 || a.act_max < 127 ||
      !PointwiseDspChunkFits(depth, window, pad_filters, widest, a.input_offset, a.output_offset)) {
    return false;
  }
  const uint32_t bias_limit =
      (static_cast<uint32_t>(1) << 30) - static_cast<uint32_t>(depth) * 32640u;
  for (int32_t c = 0; c < a.out_depth; ++c) {
    const int32_t bias = a.bias != nullptr ? a.bias[c] : 0;
    if (!PointwiseCommonChannel(view.channel[c].multiplier, view.channel[c].shift, bias,
                                bias_limit)) {
      return false;
    }
  }
  const uint32_t fused_factor = 1u + 2u * static_cast<uint32_t>(a.output_offset);
  for (int32_t c = 0; c < a.out_depth; ++c) {
    uint8_t* const record = bytes + sizeof(uint32_t) + c * sizeof(BandChannel);
    BandChannel raw;
    std::memcpy(&raw, record, sizeof(raw));
    const uint32_t e = 0u - static_cast<uint32_t>(raw.shift);
    const int32_t bias = a.bias != nullptr ? a.bias[c] : 0;
    const PointwiseBandChannel form = {
        2 * bias, raw.multiplier, static_cast<int32_t>((e > 22 ? 1u : fused_factor) << (e - 1))};
    std::memcpy(record, &form, sizeof(form));
  }
  uint32_t flags;
  std::memcpy(&flags, bytes, sizeof(flags));
  flags |= kBandPointwiseForm;
  std::memcpy(bytes, &flags, sizeof(flags));
  return true;
}

// A channel of PointwiseDspChunkRuns outside its common case: a zero or small multiplier, a
// right shift beyond 31, a narrower clamp or a bias too large to double. Fills *k and *kind;
// false when the channel is off the DSP path (DoubledRequantShift 0). Not inlined: realistic
// models rarely get here.
__attribute__((noinline)) inline bool PointwiseChannelOther(const ConvInt8Args& a, int32_t depth,
                                                            int32_t multiplier, int shift,
                                                            int32_t bias, bool big, bool full_range,
                                                            PointwiseChannel* k, uint8_t* kind) {
  const int32_t e = DoubledRequantShift(multiplier, shift);
  if (e == 0) return false;
  // Fused: output offset in the addend (e <= 22), SSAT clamps, doubled bias fits. Unfused
  // (tiny scales): the offset added after the shift. A narrower clamp or a big bias: C++,
  // the big bias through ApplyRequant, unless the output is constant. (MakeDoubledRequant's
  // form.)
  uint8_t kind_c = !full_range || big ? kOtherChannel : e <= 22 ? kFusedChannel : kUnfusedChannel;
  int32_t constant = 0;
  if (kind_c == kOtherChannel &&
      PointwiseConstantOutput(a, depth, bias, multiplier, e, &constant)) {
    kind_c = kConstantChannel;
  }
  k->q.multiplier = multiplier;
  k->q.shift = e;
  k->q.addend = (static_cast<int32_t>(1) << (e - 1)) +
                (kind_c == kFusedChannel ? a.output_offset * (static_cast<int32_t>(1) << e) : 0);
  k->bias2 = kind_c == kConstantChannel ? constant : big ? 0 : 2 * bias;
  k->bias2_copy = k->bias2;
  *kind = kind_c;
  return true;
}

// Channels [c0, c1) (at most kPointwiseChunk) of a 1x1, stride 1, unpadded convolution on the
// DSP path of pointwise_dsp.h. Returns false, having written nothing, when the chunk does not
// meet its conditions (depth a multiple of 4 up to 256, int8 zero points, every channel
// accepted by MakeDoubledRequant); the caller then runs PointwiseChunk. Channels with
// |bias| + depth x 128 x 255 >= 2^30 accumulate without their bias (PointwiseDspArgs). Not
// inlined: its 2 KB buffer and PointwiseChunk's would otherwise share one stack frame.
// `cached`: the op's constants in a patch-based stage.
__attribute__((noinline)) inline bool PointwiseDspChunkRuns(
    const ConvInt8Args& a, const OptMultipliers& multipliers, const TensorView& filter,
    const BandConstantsView* cached, int32_t c0, int32_t c1, bool window, PointwiseSpare* spare) {
  const WindowGeometry& g = a.g;
  const int32_t filter_size = g.filter_h * g.filter_w * a.depth;
  // Im2col rows: the window padded to a multiple of 4 (filters then need padded rows too).
  // The pixel buffer holds the widened rows (8 x depth bytes), then the gathered rows
  // (4 x depth) and the padded filters: no more stack than the 1x1 form.
  bool pad_filters;
  const int32_t depth = PointwiseRowDepth(a, window, &pad_filters);
  // (path_variants.h: the same conditions decide whether a build may drop the other paths)
  if (!PointwiseDspChunkFits(depth, window, pad_filters, c1 - c0, a.input_offset,
                             a.output_offset)) {
    return false;
  }
  // |bias| + depth x 128 x 255 < 2^30 (depth <= 256: the limit is positive).
  const uint32_t bias_limit =
      (static_cast<uint32_t>(1) << 30) - static_cast<uint32_t>(depth) * 32640u;
  PointwiseChannel ch[kPointwiseChunk];
  bool big_bias[kPointwiseChunk];
  uint8_t kind[kPointwiseChunk];
  int32_t run_end[kPointwiseChunk];
  bool any_big = false;
  const bool full_range = a.act_min <= -128 && a.act_max >= 127;
  // In 32-bit arithmetic only (this runs for every band of a patch-based stage): first the
  // raw multiplier, shift and bias, then the doubled form, backwards so that each run of one
  // kind knows its end on the way. The common channel (multiplier in [2^30, 2^31), right
  // shift 1..31, full range, doubled bias fits) takes about 30 instructions in the second
  // pass; the others go through PointwiseChannelOther.
  const int32_t count = c1 - c0;
  if (cached != nullptr && cached->pointwise_form()) {
    // The op's constants in this path's form (PointwiseBandForm): copied, the shift and the
    // kind read off the addend.
    const uint8_t* const records =
        reinterpret_cast<const uint8_t*>(cached->channel) + c0 * sizeof(PointwiseBandChannel);
    uint32_t run_kind = 0xFF;
    int32_t run_stop = count;
    for (int32_t c = count - 1; c >= 0; --c) {
      const uint8_t* const r = records + c * sizeof(PointwiseBandChannel);
      int32_t bias2, multiplier, addend;
      std::memcpy(&bias2, r + offsetof(PointwiseBandChannel, bias2), sizeof(bias2));
      std::memcpy(&multiplier, r + offsetof(PointwiseBandChannel, multiplier), sizeof(multiplier));
      std::memcpy(&addend, r + offsetof(PointwiseBandChannel, addend), sizeof(addend));
      const uint32_t e = static_cast<uint32_t>(__builtin_ctz(static_cast<uint32_t>(addend))) + 1;
      const uint32_t kind_c = e > 22 ? kUnfusedChannel : kFusedChannel;
      PointwiseChannel& k = ch[c];
      k.bias2 = bias2;
      k.bias2_copy = bias2;
      k.q.multiplier = multiplier;
      k.q.addend = addend;
      k.q.shift = static_cast<int32_t>(e);
      kind[c] = static_cast<uint8_t>(kind_c);
      if (kind_c != run_kind) run_kind = kind_c, run_stop = c + 1;
      run_end[c] = run_stop;
    }
  } else {
    if (cached != nullptr) {
      for (int32_t c = 0; c < count; ++c) {
        ch[c].q.multiplier = cached->channel[c0 + c].multiplier;
        ch[c].q.shift = cached->channel[c0 + c].shift;
      }
    } else {
      for (int32_t c = 0; c < count; ++c) {
        int32_t multiplier;
        int shift;
        multipliers.Make(ChannelScaleOf(filter, c0 + c), &multiplier, &shift);
        ch[c].q.multiplier = multiplier;
        ch[c].q.shift = shift;
      }
    }
    if (a.bias != nullptr) {
      for (int32_t c = 0; c < count; ++c) ch[c].bias2 = a.bias[c0 + c];
    } else {
      for (int32_t c = 0; c < count; ++c) ch[c].bias2 = 0;
    }
    // A narrower clamp sends every channel the other way (no bias is below 0).
    const uint32_t fast_bias_limit = full_range ? bias_limit : 0u;
    // Fused addend (1 + 2 o) 2^(e-1) = 2^(e-1) + o 2^e (MakeDoubledRequant's form).
    const uint32_t fused_factor = 1u + 2u * static_cast<uint32_t>(a.output_offset);
    uint32_t run_kind = 0xFF;
    int32_t run_stop = count;
    for (int32_t c = count - 1; c >= 0; --c) {
      PointwiseChannel& k = ch[c];
      const int32_t multiplier = k.q.multiplier, bias = k.bias2;
      const uint32_t e = 0u - static_cast<uint32_t>(k.q.shift);
      const uint32_t magnitude =
          bias < 0 ? 0u - static_cast<uint32_t>(bias) : static_cast<uint32_t>(bias);
      uint32_t kind_c;
      if (multiplier >= (static_cast<int32_t>(1) << 30) && e - 1u < 31u &&
          magnitude < fast_bias_limit) {
        static_assert(kFusedChannel == 0 && kUnfusedChannel == 1, "kind = e > 22");
        kind_c = e > 22 ? 1u : 0u;
        k.q.shift = static_cast<int32_t>(e);
        k.q.addend = static_cast<int32_t>((kind_c != 0 ? 1u : fused_factor) << (e - 1));
        k.bias2 = 2 * bias;
        k.bias2_copy = 2 * bias;
      } else {
        const bool big = magnitude >= bias_limit;
        if (big && !any_big) std::memset(big_bias, 0, sizeof(big_bias));
        any_big = any_big || big;
        big_bias[c] = big;
        uint8_t other_kind;
        if (!PointwiseChannelOther(a, depth, multiplier, k.q.shift, bias, big, full_range, &k,
                                   &other_kind)) {
          return false;
        }
        kind_c = other_kind;
      }
      kind[c] = static_cast<uint8_t>(kind_c);
      if (kind_c != run_kind) run_kind = kind_c, run_stop = c + 1;
      run_end[c] = run_stop;
    }
  }
  uint32_t buf[2 * kPointwiseMaxDepth];
  int8_t* const rows = reinterpret_cast<int8_t*>(buf) + 8 * depth;  // gathered windows
  int8_t* const padded = rows + 4 * depth;
  const int8_t* filters = a.filter + c0 * filter_size;
  if (pad_filters) {
    for (int32_t c = 0; c < c1 - c0; ++c) {
      std::memcpy(padded + c * depth, filters + c * filter_size, static_cast<size_t>(filter_size));
      std::memset(padded + c * depth + filter_size, 0, static_cast<size_t>(depth - filter_size));
    }
    filters = padded;
  }
  const Im2col im2col = {a.input, a.in_h, a.in_w, a.depth, g, static_cast<int8_t>(-a.input_offset)};
  const PointwiseDspArgs args = {a.input,
                                 filters,
                                 a.output + c0,
                                 a.batches * g.out_h * g.out_w,
                                 depth,
                                 a.out_depth,
                                 c1 - c0,
                                 a.input_offset,
                                 a.output_offset,
                                 a.act_min,
                                 a.act_max,
                                 any_big ? a.bias + c0 : nullptr,
                                 any_big ? big_bias : nullptr,
                                 kind,
                                 run_end,
                                 window ? &im2col : nullptr,
                                 rows,
                                 0,
                                 nullptr,
                                 0,
                                 nullptr};
  if (window) {
    PointwiseDspChunk(args, ch, buf);
  } else if (!PointwiseShallowRuns(args, ch, buf) && !PointwiseLayerRuns(args, ch, buf, spare) &&
             !PointwiseDeepRuns(args, ch, buf)) {
    PointwiseDspChunk(WidenFiltersAhead(args, buf), ch, buf);
  }
  return true;
}
#endif

// The optimized int8 x int8 -> int8 convolution (groups of 1). Returns false, having
// written nothing, when it does not apply (the caller runs the reference kernel).
// `cached`: the op's per-channel constants inside a patch-based stage (else nullptr).
// Channels [c0, c1) (at most kChannelChunk) by the paths that keep ChannelConstants: not
// inlined, so their 1 KB of constants is not on the stack while the DSP path runs.
__attribute__((noinline)) inline void ConvChunkWithConstants(
    const ConvInt8Args& a, const OptMultipliers& multipliers, const TensorView& filter,
    const BandConstantsView* cached, int32_t c0, int32_t c1, bool pointwise, bool sse) {
  ChannelConstants k;
  const int32_t filter_size = a.g.filter_h * a.g.filter_w * a.depth;
  if (cached != nullptr) {
    LoadChannelConstants(*cached, a.bias, c0, c1, &k);
  } else {
    FillChannelConstants(multipliers, filter, a.filter, a.bias, filter_size, a.input_offset, c0, c1,
                         &k, !sse);
  }
#if MD_KERNELS_SSE2
  if (sse) {
    ConvChunkSse2(a, k, c0, c1);
    return;
  }
#endif
  if (pointwise) {
    PointwiseChunk(a, k, c0, c1);
  } else {
    WindowChunk(a, k, c0, c1);
  }
}

__attribute__((noinline)) inline bool ConvInt8Optimized(
    const ConvInt8Args& a, const TensorView& input, const TensorView& filter,
    const TensorView& output, const BandConstantsView* cached = nullptr,
    [[maybe_unused]] PointwiseSpare* spare = nullptr) {
  if (cached != nullptr ? !cached->scales_positive : !ScalesArePositive(filter, a.out_depth)) {
    return false;
  }
  const bool pointwise = IsPointwise(a);
  // Inside a stage the multipliers come from the op's constants (cached; a fallback chunk of an
  // op whose area is in the DSP path's form, which never happens, would take the double form).
  const OptMultipliers multipliers(input.scale, output.scale, cached == nullptr);
#if MD_KERNELS_SSE2
  const bool sse = SseOffsetOk(a.input_offset);
#else
  const bool sse = false;
#endif
  for (int32_t c0 = 0, c1 = 0; c0 < a.out_depth; c0 = c1) {
#if MD_KERNELS_ARM_DSP
    c1 = c0 + kPointwiseChunk < a.out_depth ? c0 + kPointwiseChunk : a.out_depth;
    if (PointwiseDspChunkRuns(a, multipliers, filter, cached, c0, c1, !pointwise, spare)) continue;
#endif
    // Compiled out (MD_KERNELS_NO_CONV_FALLBACK, path_variants.h): prepare only accepts ops
    // that never get here; the caller fails the invoke if one does.
    if constexpr (!kConvFallbackLinked) return false;
    c1 = c0 + kChannelChunk < a.out_depth ? c0 + kChannelChunk : a.out_depth;
    // (An area in the DSP path's form has no BandChannel records; PointwiseBandForm only
    // writes it for ops whose every chunk runs on that path.)
    ConvChunkWithConstants(a, multipliers, filter,
                           cached != nullptr && !cached->pointwise_form() ? cached : nullptr, c0,
                           c1, pointwise, sse);
  }
  return true;
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_CONV_2D_OPT_H_
