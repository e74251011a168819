// The Cortex-M DSP-extension path of int8 1x1 convolutions (stride 1, no padding, groups of 1):
// a matrix product of the pixels [P, K] by the filters [C, K], as CMSIS-NN's
// arm_convolve_1x1_s8_fast does, arranged for the fewest instructions per MAC.
//
// - Four pixels at a time are widened once to int16 pairs in a stack buffer, the input zero
//   point folded in and the values doubled: each word of four int8 values (x0 x1 x2 x3) becomes
//   2 (x0 + off), 2 (x2 + off) and 2 (x1 + off), 2 (x3 + off) (two SXTAB16 each, values within
//   +-510). Every output channel reuses the block, so this costs little per MAC, and no filter
//   sums are needed for the input offset.
// - Per output channel, one filter word (four values, SXTB16 twice) feeds eight SMLADs, one per
//   pixel and pair, with the pixels' eight words loaded by two LDMs: 13 instructions for 16 MACs,
//   in an assembly loop over 16 values per round (GCC neither emits LDM here nor folds the
//   rotation into SXTB16).
// - The accumulators start at 2 x bias and come out as 2 x TFLM's accumulator, which is what
//   RequantizeDoubled (int8_opt.h) wants: SMMLAR, ADD, ASR, then the clamp (SSAT alone for the
//   full int8 range): about 5 instructions per output instead of about 25.
// - Pixels left over after the blocks of four (a 3x3 map has one) take a one-pixel loop.
//
// Bit-exactness: sums of exact integer products without overflow (the caller checks
// |bias| + K x 128 x 255 < 2^30), then the exact requantization of RequantizeDoubled.
#ifndef MD_KERNELS_POINTWISE_DSP_H_
#define MD_KERNELS_POINTWISE_DSP_H_

#include <cstdint>
#include <cstring>

#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"

#if MD_KERNELS_ARM_DSP

namespace md {
namespace opt {

// Largest depth the DSP 1x1 path widens on the stack (4 pixels x 256 x 2 bytes).
constexpr int32_t kPointwiseMaxDepth = 256;
// Channels whose constants it keeps on the stack at once (16 bytes each): the four-pixel
// blocks are widened once per chunk.
constexpr int32_t kPointwiseChunk = 64;

// One output channel of the 1x1 DSP path.
struct PointwiseChannel {
  DoubledRequant q;
  int32_t bias2;  // 2 x bias
};

// The 1x1 DSP path's operands: `filter` points at channel c0's row, `output` at pixel 0's
// channel c0; `channels` rows of `depth` values (depth a multiple of 4, at most 256).
struct PointwiseDspArgs {
  const int8_t* input;
  const int8_t* filter;
  int8_t* output;
  int32_t pixels, depth, out_depth, channels;
  int32_t input_offset;  // in [-127, 128]
  int32_t output_offset, act_min, act_max;
  // Channels whose bias is too large to double (nullptr when there are none): their sums
  // start at 0 and are requantized from bias + sum / 2 by ApplyRequant.
  const int32_t* bias;
  const bool* big_bias;
  // next_slow[c]: the first channel >= c that is not fast (`channels` if none); a fast
  // channel has its output offset fused and the full int8 range.
  const int32_t* next_slow;
  // Any other window (nullptr for 1x1): pixel p's row is its window gathered (Im2colRow)
  // into `rows` (4 x depth bytes).
  const struct Im2col* im2col;
  int8_t* rows;
};

// A convolution window gathered into one row of `depth` values (im2col), so the 1x1 machinery
// runs any CONV_2D whose filter holds at most kPointwiseMaxDepth values: taps outside the
// input hold the input zero point (x + offset = 0, as TFLM skips them), and the row is padded
// to a multiple of 4 with it (against filter values 0).
struct Im2col {
  const int8_t* input;
  int32_t in_h, in_w, in_depth;
  WindowGeometry g;
  int8_t zero_point;
};

// Small copies and fills inline (a library call per tap would cost more than the copy).
inline void CopySmall(int8_t* dst, const int8_t* src, int32_t n) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t w = LoadWord(src + i);
    std::memcpy(dst + i, &w, 4);
  }
  for (; i < n; ++i) dst[i] = src[i];
}

inline void FillSmall(int8_t* dst, int8_t value, int32_t n) {
  for (int32_t i = 0; i < n; ++i) dst[i] = value;
}

inline void Im2colRow(const Im2col& m, int32_t p, int32_t depth, int8_t* row) {
  const WindowGeometry& g = m.g;
  const int32_t per_image = g.out_h * g.out_w;
  const int32_t b = p / per_image, rest = p - b * per_image;
  const int32_t out_y = rest / g.out_w, out_x = rest - out_y * g.out_w;
  const int8_t* image = m.input + b * m.in_h * m.in_w * m.in_depth;
  const int32_t x0 = out_x * g.stride_w - g.pad_w;
  const int32_t row_bytes = g.filter_w * m.in_depth;
  // With dilation 1 a window row whose taps all lie inside is one contiguous copy.
  const bool x_inside = g.dilation_w == 1 && x0 >= 0 && x0 + g.filter_w <= m.in_w;
  int8_t* dst = row;
  for (int32_t fy = 0; fy < g.filter_h; ++fy, dst += row_bytes) {
    const int32_t in_y = out_y * g.stride_h - g.pad_h + g.dilation_h * fy;
    if (in_y < 0 || in_y >= m.in_h) {
      FillSmall(dst, m.zero_point, row_bytes);
      continue;
    }
    const int8_t* src_row = image + in_y * m.in_w * m.in_depth;
    if (x_inside) {
      CopySmall(dst, src_row + x0 * m.in_depth, row_bytes);
      continue;
    }
    for (int32_t fx = 0; fx < g.filter_w; ++fx) {
      const int32_t in_x = x0 + g.dilation_w * fx;
      if (in_x < 0 || in_x >= m.in_w) {
        FillSmall(dst + fx * m.in_depth, m.zero_point, m.in_depth);
      } else {
        CopySmall(dst + fx * m.in_depth, src_row + in_x * m.in_depth, m.in_depth);
      }
    }
  }
  FillSmall(dst, m.zero_point, static_cast<int32_t>(row + depth - dst));
}

// Rows p .. p + count - 1 of the product's left operand: the input pixels (1x1), or the
// windows gathered into `rows` (count x depth bytes).
template <bool kIm2col>
inline const int8_t* PixelRows(const PointwiseDspArgs& a, int32_t p, int32_t count, int8_t* rows) {
  if (!kIm2col) return a.input + p * a.depth;
  for (int32_t i = 0; i < count; ++i) Im2colRow(*a.im2col, p + i, a.depth, rows + i * a.depth);
  return rows;
}

inline uint32_t Sxtab16(uint32_t add, uint32_t v) {
  return static_cast<uint32_t>(__sxtab16(static_cast<int16x2_t>(add), v));
}

// SXTAB16 of v rotated right by 8 (see Sxtb16Ror8).
inline uint32_t Sxtab16Ror8(uint32_t add, uint32_t v) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(add), "r"(v));
  return r;
}

// 2 (x + off) for the four int8 x of `w`: (x0, x2) in *even, (x1, x3) in *odd.
// off2 holds 2 off in both halves: 2 off + x + x.
inline void WidenDoubled(uint32_t w, uint32_t off2, uint32_t* even, uint32_t* odd) {
  *even = Sxtab16(Sxtab16(off2, w), w);
  *odd = Sxtab16Ror8(Sxtab16Ror8(off2, w), w);
}

// Widens `count` pixels (1..4) of `depth` values at `in` into buf: per 4 values, 2 words per
// pixel, pixels side by side.
inline void WidenPixels(const int8_t* in, int32_t depth, int32_t count, uint32_t off2,
                        uint32_t* buf) {
  for (int32_t k = 0; k < depth; k += 4) {
    for (int32_t i = 0; i < count; ++i) {
      WidenDoubled(LoadWord(in + i * depth + k), off2, &buf[2 * i], &buf[2 * i + 1]);
    }
    buf += 2 * count;
  }
}

// One 4-value step of the four-pixel dot product: filter word -> two pairs, 8 SMLADs.
#define MD_PW_STEP                      \
  "ldr %[w], [%[f]], #4\n\t"            \
  "ldmia %[buf]!, {r4, r5, r6, r8}\n\t" \
  "sxtb16 %[w02], %[w]\n\t"             \
  "sxtb16 %[w], %[w], ror #8\n\t"       \
  "smlad %[a0], %[w02], r4, %[a0]\n\t"  \
  "smlad %[a0], %[w], r5, %[a0]\n\t"    \
  "smlad %[a1], %[w02], r6, %[a1]\n\t"  \
  "smlad %[a1], %[w], r8, %[a1]\n\t"    \
  "ldmia %[buf]!, {r4, r5, r6, r8}\n\t" \
  "smlad %[a2], %[w02], r4, %[a2]\n\t"  \
  "smlad %[a2], %[w], r5, %[a2]\n\t"    \
  "smlad %[a3], %[w02], r6, %[a3]\n\t"  \
  "smlad %[a3], %[w], r8, %[a3]\n\t"

// a0..a3 += the dot products of `depth` values (a multiple of 4; in n) of the filter at f
// with the four widened pixels at buf. Rounds of 16 values, then 8 and 4; f and buf advance.
// r4-r6 and r8 hold the loaded words (LDM's list must be ascending; r7 may be the frame
// pointer).
#define MD_PW_DOT                                       \
  "subs %[n], %[n], #16\n\t"                            \
  "blt 2f\n"                                            \
  "1:\n\t" MD_PW_STEP MD_PW_STEP MD_PW_STEP MD_PW_STEP  \
  "subs %[n], %[n], #16\n\t"                            \
  "bge 1b\n"                                            \
  "2:\n\t" /* n = depth mod 16 - 16: same low 4 bits */ \
  "tst %[n], #8\n\t"                                    \
  "beq 3f\n\t" MD_PW_STEP MD_PW_STEP                    \
  "3:\n\t"                                              \
  "tst %[n], #4\n\t"                                    \
  "beq 4f\n\t" MD_PW_STEP "4:\n\t"

// acc[i] += sum_k filter[k] * pixel_i[k] for the four widened pixels; advances *filter.
__attribute__((always_inline)) inline void DotFourPixels(const int8_t** filter, const uint32_t* buf,
                                                         int32_t depth, int32_t& a0, int32_t& a1,
                                                         int32_t& a2, int32_t& a3) {
  const int8_t* f = *filter;
#if defined(__OPTIMIZE__)  // unoptimized builds keep a frame pointer: too few registers
  int32_t n = depth;
  uint32_t w, w02;
  __asm__ volatile(MD_PW_DOT
                   : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [f] "+r"(f),
                     [buf] "+r"(buf), [n] "+r"(n), [w] "=&r"(w), [w02] "=&r"(w02)
                   :
                   : "r4", "r5", "r6", "r8", "cc", "memory");
#else
  for (int32_t k = 0; k < depth; k += 4, f += 4, buf += 8) {
    const uint32_t w = LoadWord(f);
    const uint32_t w02 = Sxtb16(w), w13 = Sxtb16Ror8(w);
    a0 = SmladPairs(w13, buf[1], SmladPairs(w02, buf[0], a0));
    a1 = SmladPairs(w13, buf[3], SmladPairs(w02, buf[2], a1));
    a2 = SmladPairs(w13, buf[5], SmladPairs(w02, buf[4], a2));
    a3 = SmladPairs(w13, buf[7], SmladPairs(w02, buf[6], a3));
  }
#endif
  *filter = f;
}

// What the all-assembly channel loop of a four-pixel block reads (pushed on its stack).
struct FourPixelBlock {
  const PointwiseChannel* ch;      // first channel
  const PointwiseChannel* ch_end;  // one past the last
  int8_t* out;                     // pixel 0's output of the first channel
  int32_t out_depth;
  const uint32_t* buf;  // the four widened pixels
  int32_t depth;
};

// Channels [ch, ch_end) of a four-pixel block with the output offset fused and the full int8
// range (SSAT alone clamps), all in assembly: per channel, the accumulators start at 2 x bias,
// MD_PW_DOT runs, then SMMLAR/ADD/ASR/SSAT per output and four STRBs (pixels out_depth
// apart). About 41 instructions per channel besides the dot product (the C++ loop around
// DotFourPixels took about 60: it spilled pointers around the assembly). The block's
// variables live on the stack the assembly pushes, as it needs every register but r7.
// Returns the filter pointer advanced past the block's channels.
#if defined(__OPTIMIZE__)
__attribute__((noinline)) inline const int8_t* FourPixelBlockFast(const FourPixelBlock& b,
                                                                  const int8_t* f) {
  // n first holds the block's address; once the block is on the stack it is the loop's
  // scratch (13 registers in all: r7 stays free for a frame pointer).
  uintptr_t n = reinterpret_cast<uintptr_t>(&b);
  int32_t a0, a1, a2, a3;
  uint32_t w, w02;
  const uint32_t* buf;
  __asm__ volatile(
      // sp+0 ch, +4 ch_end, +8 out, +12 out_depth, +16 buf, +20 depth.
      "ldrd %[w], %[w02], [%[n], #16]\n\t"
      "strd %[w], %[w02], [sp, #-8]!\n\t"
      "ldmia %[n], {r4, r5, r6, r8}\n\t"
      "push {r4, r5, r6, r8}\n"
      "0:\n\t"
      "ldr %[n], [sp]\n\t"
      "ldr %[a0], [%[n], #12]\n\t"  // bias2
      "mov %[a1], %[a0]\n\t"
      "mov %[a2], %[a0]\n\t"
      "mov %[a3], %[a0]\n\t"
      "ldrd %[buf], %[n], [sp, #16]\n\t" MD_PW_DOT
      "ldr %[n], [sp]\n\t"
      "ldmia %[n]!, {r4, r5, r6, r8}\n\t"  // multiplier, addend, shift, bias2
      "str %[n], [sp]\n\t"
      "smmlar %[w], %[a0], r4, r5\n\t"
      "add %[w], %[w], %[a0], asr #31\n\t"
      "asr %[w], %[w], r6\n\t"
      "ssat %[a0], #8, %[w]\n\t"
      "smmlar %[w], %[a1], r4, r5\n\t"
      "add %[w], %[w], %[a1], asr #31\n\t"
      "asr %[w], %[w], r6\n\t"
      "ssat %[a1], #8, %[w]\n\t"
      "smmlar %[w], %[a2], r4, r5\n\t"
      "add %[w], %[w], %[a2], asr #31\n\t"
      "asr %[w], %[w], r6\n\t"
      "ssat %[a2], #8, %[w]\n\t"
      "smmlar %[w], %[a3], r4, r5\n\t"
      "add %[w], %[w], %[a3], asr #31\n\t"
      "asr %[w], %[w], r6\n\t"
      "ssat %[a3], #8, %[w]\n\t"
      "ldrd %[buf], %[w], [sp, #8]\n\t"  // out, out_depth
      "strb %[a1], [%[buf], %[w]]\n\t"
      "add %[w02], %[buf], %[w], lsl #1\n\t"
      "strb %[a2], [%[w02]]\n\t"
      "strb %[a3], [%[w02], %[w]]\n\t"
      "strb %[a0], [%[buf]], #1\n\t"
      "str %[buf], [sp, #8]\n\t"
      "ldr %[w], [sp, #4]\n\t"
      "cmp %[n], %[w]\n\t"
      "bne 0b\n\t"
      "add sp, sp, #24\n\t"
      : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [f] "+r"(f),
        [buf] "=&r"(buf), [n] "+&r"(n), [w] "=&r"(w), [w02] "=&r"(w02)
      :
      : "r4", "r5", "r6", "r8", "cc", "memory");
  return f;
}
#endif

#undef MD_PW_DOT
#undef MD_PW_STEP

// sum_k filter[k] * pixel[k] for one widened pixel (depth a multiple of 4); advances *filter.
inline int32_t DotOnePixel(const int8_t** filter, const uint32_t* buf, int32_t depth, int32_t acc) {
  const int8_t* f = *filter;
  for (int32_t k = 0; k < depth; k += 4) {
    const uint32_t w = LoadWord(f + k);
    acc = SmladPairs(Sxtb16(w), buf[0], acc);
    acc = SmladPairs(Sxtb16Ror8(w), buf[1], acc);
    buf += 2;
  }
  *filter = f + depth;
  return acc;
}

// The output value of channel c's doubled accumulator. A fast channel (next_slow[c] != c)
// has the output offset fused into its addend and the full int8 range (SSAT alone clamps).
// Otherwise the offset is added here and act_min/act_max clamp, and a channel with a big bias
// (its sum started at 0) takes bias + acc2 / 2 through ApplyRequant.
inline int8_t PointwiseOutput(const PointwiseDspArgs& a, const PointwiseChannel& k, int32_t c,
                              int32_t acc2) {
  if (a.next_slow[c] != c) return static_cast<int8_t>(__ssat(RequantizeDoubled(k.q, acc2), 8));
  if (a.big_bias != nullptr && a.big_bias[c]) {
    // Unfused (offset not in the addend), so k.q.shift is the channel's right shift (or 1 for
    // a zero multiplier, which gives 0 either way).
    const uint32_t acc = static_cast<uint32_t>(a.bias[c]) + static_cast<uint32_t>(acc2 >> 1);
    return RequantizeToInt8(MakeRequant(k.q.multiplier, -k.q.shift), acc, a.output_offset,
                            a.act_min, a.act_max);
  }
  int32_t v = RequantizeDoubled(k.q, acc2) + a.output_offset;
  v = v < a.act_min ? a.act_min : v;
  v = v > a.act_max ? a.act_max : v;
  return static_cast<int8_t>(v);
}

// Every pixel, channels [0, channels) of the args (one chunk). `ch` holds the channels'
// constants, `buf` 8 x depth / 4 words. Runs of fast channels of a four-pixel block go to
// FourPixelBlockFast, the other channels through DotFourPixels and PointwiseOutput.
template <bool kIm2col>
void PointwiseDspChunk(const PointwiseDspArgs a, const PointwiseChannel* ch, uint32_t* buf) {
  const uint32_t off2 = static_cast<uint32_t>(2 * a.input_offset) & 0xFFFFu;
  const uint32_t off2x2 = off2 | (off2 << 16);
  const int32_t od = a.out_depth;
  int32_t p = 0;
  for (; p + 4 <= a.pixels; p += 4) {
    WidenPixels(PixelRows<kIm2col>(a, p, 4, a.rows), a.depth, 4, off2x2, buf);
    int8_t* out = a.output + p * od;
    const int8_t* f = a.filter;
    for (int32_t c = 0; c < a.channels; ++c) {
#if defined(__OPTIMIZE__)
      const int32_t run_end = a.next_slow[c];
      if (run_end != c) {
        const FourPixelBlock block = {ch + c, ch + run_end, out + c, od, buf, a.depth};
        f = FourPixelBlockFast(block, f);
        c = run_end - 1;
        continue;
      }
#endif
      const PointwiseChannel k = ch[c];
      int32_t a0 = k.bias2, a1 = k.bias2, a2 = k.bias2, a3 = k.bias2;
      DotFourPixels(&f, buf, a.depth, a0, a1, a2, a3);
      out[c] = PointwiseOutput(a, k, c, a0);
      out[c + od] = PointwiseOutput(a, k, c, a1);
      out[c + 2 * od] = PointwiseOutput(a, k, c, a2);
      out[c + 3 * od] = PointwiseOutput(a, k, c, a3);
    }
  }
  for (; p < a.pixels; ++p) {
    WidenPixels(PixelRows<kIm2col>(a, p, 1, a.rows), a.depth, 1, off2x2, buf);
    int8_t* out = a.output + p * od;
    const int8_t* f = a.filter;
    for (int32_t c = 0; c < a.channels; ++c) {
      const int32_t acc = DotOnePixel(&f, buf, a.depth, ch[c].bias2);
      out[c] = PointwiseOutput(a, ch[c], c, acc);
    }
  }
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_ARM_DSP

#endif  // MD_KERNELS_POINTWISE_DSP_H_
