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
//   pixel and pair, with the pixels' eight words loaded by two LDMs: 13 instructions for 16 MACs
//   (GCC neither emits LDM here nor folds the rotation into SXTB16). The channel loop of a block
//   is assembly with fixed registers: eight such steps written out, entered part-way for depths
//   that are not a multiple of 32 (Duff's device: LDR PC), rounds of 32 values above that.
// - The accumulators start at 2 x bias and come out as 2 x TFLM's accumulator, which is what
//   RequantizeDoubled (int8_opt.h) wants: SMMLAR, ADD, ASR, then the clamp (SSAT alone for the
//   full int8 range): about 5 instructions per output instead of about 25.
// - A last block of 2 or 3 pixels repeats pixels (its outputs coincide); a last single pixel
//   (a 3x3 map has one) takes a one-pixel assembly loop.
//
// Bit-exactness: sums of exact integer products without overflow (the caller checks
// |bias| + K x 128 x 255 < 2^30), then the exact requantization of RequantizeDoubled.
#ifndef MD_KERNELS_POINTWISE_DSP_H_
#define MD_KERNELS_POINTWISE_DSP_H_

#include <cstdint>
#include <cstring>

#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/kernels/pointwise_asm.h"

#if MD_KERNELS_ARM_DSP

namespace md {
namespace opt {

// Largest depth the DSP 1x1 path widens on the stack (4 pixels x 256 x 2 bytes).
constexpr int32_t kPointwiseMaxDepth = 256;
// Channels whose constants it keeps on the stack at once (16 bytes each): the four-pixel
// blocks are widened once per chunk.
constexpr int32_t kPointwiseChunk = 64;

enum : uint8_t { kFusedChannel, kUnfusedChannel, kOtherChannel, kConstantChannel };

// One output channel of the 1x1 DSP path.
// (20 bytes; the layout is the assembly's: two LDRDs of the bias start the four accumulators, one
// LDM reads the rest.)
struct PointwiseChannel {
  int32_t bias2;       // 2 x bias
  int32_t bias2_copy;  // the same
  DoubledRequant q;
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
  // kind[c]: kFusedChannel (output offset in the addend, full int8 range: SSAT alone clamps),
  // kUnfusedChannel (right shift beyond 22: the offset is added after the shift, full range)
  // kOtherChannel (narrower clamp or big bias: C++) or kConstantChannel (the same output for
  // every possible sum, in its bias2: no dot product). run_end[c]: the first channel > c of
  // another kind (`channels` if none).
  const uint8_t* kind;
  const int32_t* run_end;
  // Any other window (nullptr for 1x1): pixel p's row is its window gathered (Im2colRow)
  // into `rows` (4 x depth bytes).
  const struct Im2col* im2col;
  int8_t* rows;
  // Channels [0, wide) (fused) whose filters were widened ahead into wide_filters
  // (pointwise_shallow_dsp.h's PointwiseWideRuns): FourPixelBlockWide runs them.
  int32_t wide;
  const uint32_t* wide_filters;
  // Depths above 32 (pointwise_shallow_dsp.h's PointwiseDeepRuns): channels [wide, wide +
  // wide2) (fused) widened into a second buffer, wide_filters2; FourPixelBlockWideRounds runs
  // both groups, and the channels after them are one fused run (FourPixelBlockAny).
  int32_t wide2;
  const uint32_t* wide_filters2;
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
inline const int8_t* PixelRows(const PointwiseDspArgs& a, int32_t p, int32_t count, int8_t* rows) {
  if (a.im2col == nullptr) return a.input + p * a.depth;
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

// Widens one pixel of `depth` values at `in` into buf (2 words per 4 values). Not inlined: two
// callers, once per call or op.
__attribute__((noinline)) inline void WidenOnePixel(const int8_t* in, int32_t depth, uint32_t off2,
                                                    uint32_t* buf) {
  for (int32_t k = 0; k < depth; k += 4, buf += 2) {
    WidenDoubled(LoadWord(in + k), off2, &buf[0], &buf[1]);
  }
}

// Widens four pixels of `depth` values (rows px[0..3]) into buf: per 4 values, 2 words per
// pixel, pixels side by side.
// (depth > 0: the assembly loop runs at least once.) Not inlined: three callers.
__attribute__((noinline)) inline void WidenFourPixels(const int8_t* const* px, int32_t depth,
                                                      uint32_t off2, uint32_t* buf) {
  const int8_t *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3];
#if defined(__OPTIMIZE__)
  // Per pixel word: LDR, four SXTAB16, one STRD (26 instructions per four pixels' words with
  // the loop test; GCC's loop took 32).
  const uint32_t* const end = buf + 2 * depth;
  uint32_t w, even, odd;
  // clang-format off
#define MD_PW_WIDEN(p)                            \
  "ldr %[w], [%[" p "]], #4\n\t"                  \
  "sxtab16 %[e], %[off], %[w]\n\t"                \
  "sxtab16 %[e], %[e], %[w]\n\t"                  \
  "sxtab16 %[o], %[off], %[w], ror #8\n\t"        \
  "sxtab16 %[o], %[o], %[w], ror #8\n\t"          \
  "strd %[e], %[o], [%[buf]], #8\n\t"
  // clang-format on
  __asm__ volatile("1:\n\t" MD_PW_WIDEN("p0") MD_PW_WIDEN("p1") MD_PW_WIDEN("p2") MD_PW_WIDEN("p3")
                   "cmp %[buf], %[end]\n\t"
                   "bne 1b\n\t"
                   : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [p3] "+r"(p3), [buf] "+r"(buf),
                     [w] "=&r"(w), [e] "=&r"(even), [o] "=&r"(odd)
                   : [off] "r"(off2), [end] "r"(end)
                   : "cc", "memory");
#undef MD_PW_WIDEN
#else
  for (int32_t k = 0; k < depth; k += 4, buf += 8) {
    WidenDoubled(LoadWord(p0 + k), off2, &buf[0], &buf[1]);
    WidenDoubled(LoadWord(p1 + k), off2, &buf[2], &buf[3]);
    WidenDoubled(LoadWord(p2 + k), off2, &buf[4], &buf[5]);
    WidenDoubled(LoadWord(p3 + k), off2, &buf[6], &buf[7]);
  }
#endif
}

// The four-pixel block in assembly, registers fixed: r0-r3 the four accumulators, r4-r6 and r8
// the pixels' words (LDM's list must be ascending; r7 may be the frame pointer), r9/r10 the
// filter word's two pairs, r11 the filter, r12 the widened pixels, lr the loop counter or the
// channel constants. One 4-value step: filter word -> two pairs, 8 SMLADs.
#define MD_PW_STEP                   \
  "ldr r10, [r11], #4\n\t"           \
  "ldmia r12!, {r4, r5, r6, r8}\n\t" \
  "sxtb16 r9, r10\n\t"               \
  "sxtb16 r10, r10, ror #8\n\t"      \
  "smlad r0, r9, r4, r0\n\t"         \
  "smlad r0, r10, r5, r0\n\t"        \
  "smlad r1, r9, r6, r1\n\t"         \
  "smlad r1, r10, r8, r1\n\t"        \
  "ldmia r12!, {r4, r5, r6, r8}\n\t" \
  "smlad r2, r9, r4, r2\n\t"         \
  "smlad r2, r10, r5, r2\n\t"        \
  "smlad r3, r9, r6, r3\n\t"         \
  "smlad r3, r10, r8, r3\n\t"

// Eight steps (32 values) from label 10 to 11; entered part-way (at 10 + 52 bytes x steps
// skipped: every step is 13 32-bit instructions, which the assembler checks) for depths that
// are not a multiple of 32.
#define MD_PW_EIGHT_STEPS                                                     \
  "10:\n\t" MD_PW_STEP MD_PW_STEP MD_PW_STEP MD_PW_STEP MD_PW_STEP MD_PW_STEP \
      MD_PW_STEP MD_PW_STEP                                                   \
  "11:\n\t"                                                                   \
  ".if (11b - 10b) - 416\n\t"                                                 \
  ".error \"MD_PW_STEP is not 52 bytes\"\n\t"                                 \
  ".endif\n\t"

// r0 = the Thumb address of label 10 + 52 x ((-depth mod 32) / 4): the entry into
// MD_PW_EIGHT_STEPS that leaves depth mod 32 values (all 32 when 0) for the first round.
// Depth in r0; clobbers r1.
#define MD_PW_ENTRY                                    \
  "rsb r0, r0, #0\n\t"                                 \
  "and r0, r0, #31\n\t" /* 4 x the steps skipped */    \
  "add r1, r0, r0, lsl #1\n\t"                         \
  "rsb r0, r1, r0, lsl #4\n\t" /* x 13: their bytes */ \
  "adr.w r1, 10f\n\t"                                  \
  "add r0, r0, r1\n\t"                                 \
  "orr r0, r0, #1\n\t" /* Thumb */

// Accumulator a (doubled) -> int8: MD_PW_REQUANT (pointwise_asm.h) with the fused offset;
// MD_PW_REQUANT_POST unfused, r4 the output offset added after the shift.
// clang-format off
#define MD_PW_REQUANT_POST(a)         \
  "smmlar r10, " a ", r6, r8\n\t"     \
  "add r10, r10, " a ", asr #31\n\t"  \
  "asr r10, r10, r9\n\t"             \
  "add r10, r10, r4\n\t"             \
  "ssat " a ", #8, r10\n\t"
// clang-format on

// The block (FourPixelBlock) copied to the stack: sp+0 out0, +4 out2, +8 out_step, +12 ch_end,
// +16 ch, +20 buf, +24 depth, +28 spare, +32 output offset, +36 unfused.
#define MD_PW_PROLOGUE                                       \
  "ldmia r12, {r0, r1, r2, r3, r4, r5, r6, r8, r9, r10}\n\t" \
  "push {r0, r1, r2, r3, r4, r5, r6, r8, r9, r10}\n\t"

// [sp, #36] = the Thumb address of label 20 (fused channels) or 21 (unfused), by the flag
// there. Clobbers r0, r1.
#define MD_PW_EPILOGUE_CHOICE \
  "ldr r1, [sp, #36]\n\t"     \
  "adr.w r0, 20f\n\t"         \
  "cbz r1, 5f\n\t"            \
  "adr.w r0, 21f\n"           \
  "5:\n\t"                    \
  "orr r0, r0, #1\n\t"        \
  "str r0, [sp, #36]\n\t"

// lr points at the channel's constants {bias2, bias2, multiplier, addend, shift} (advanced past
// them here): requantizes r0..r3, stores them (pixels 0/1 at out0, 2/3 at out2), loops to 0:
// while lr != ch_end.
// MD_PW_REQUANT_STORE_POST_LOOP: the same for unfused channels.
// clang-format off
#define MD_PW_STORE_LOOP                                      \
  "ldmia sp, {r4, r5, r6, r8}\n\t"                            \
  "strb r1, [r4, r6]\n\t"                                     \
  "strb r0, [r4], #1\n\t"                                     \
  "strb r3, [r5, r6]\n\t"                                     \
  "strb r2, [r5], #1\n\t"                                     \
  "strd r4, r5, [sp]\n\t"                                     \
  "cmp lr, r8\n\t"                                            \
  "bne 0b\n\t"
#define MD_PW_REQUANT_STORE_LOOP(save_ch)                     \
  "ldmia lr!, {r4, r5, r6, r8, r9}\n\t" save_ch               \
  MD_PW_REQUANT("r0") MD_PW_REQUANT("r1") MD_PW_REQUANT("r2") \
  MD_PW_REQUANT("r3") MD_PW_STORE_LOOP
#define MD_PW_REQUANT_STORE_POST_LOOP(save_ch)                \
  "ldmia lr!, {r4, r5, r6, r8, r9}\n\t" save_ch               \
  "ldr r4, [sp, #32]\n\t"                                     \
  MD_PW_REQUANT_POST("r0") MD_PW_REQUANT_POST("r1")           \
  MD_PW_REQUANT_POST("r2") MD_PW_REQUANT_POST("r3") MD_PW_STORE_LOOP
// clang-format on

// What the all-assembly channel loop of a four-pixel block reads (copied onto its stack, as it
// needs every register but r7). Pixels 0 and 1 are written at out0 and out0 + out_step, 2 and
// 3 at out2 and out2 + out_step: a block of 2 or 3 pixels repeats pixels so that repeated ones
// write the same value to the same place (see PointwiseDspChunk).
struct FourPixelBlock {
  int8_t* out0;
  int8_t* out2;
  int32_t out_step;
  const PointwiseChannel* ch_end;  // one past the last channel
  const PointwiseChannel* ch;      // first channel
  const uint32_t* buf;             // the four widened pixels
  int32_t depth;
  int32_t spare;          // the assembly's
  int32_t output_offset;  // for unfused channels
  int32_t unfused;        // the channels are kUnfusedChannel (else kFusedChannel)
};

// Channels [ch, ch_end) of a four-pixel block with the output offset fused and the full int8
// range (SSAT alone clamps), all in assembly: per channel, the accumulators start at 2 x bias
// (two LDRDs), the dot product runs, then SMMLAR/ADD/ASR/SSAT per output and four STRBs. About
// 30 instructions per channel besides the dot product (FourPixelBlockAny: the channel pointer
// lives on the stack while lr counts), 29 for widened filters up to 32 values
// (FourPixelBlockWide: lr holds the channel pointer, no loop counter). Returns the filter
// pointer advanced past the block's channels.
#if defined(__OPTIMIZE__)
#define MD_PW_BLOCK_FUNCTION(name, body)                                                          \
  __attribute__((noinline)) inline const int8_t* name(const FourPixelBlock& b, const int8_t* f) { \
    register const FourPixelBlock* block __asm__("r12") = &b;                                     \
    register const int8_t* filter __asm__("r11") = f;                                             \
    __asm__ volatile(MD_PW_PROLOGUE body                                                          \
                     : "+r"(filter), "+r"(block)                                                  \
                     :                                                                            \
                     : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "lr", "cc",   \
                       "memory");                                                                 \
    return filter;                                                                                \
  }

// Depths above 32: the first round enters the eight steps part-way (see MD_PW_ENTRY), then
// whole rounds of 32 values; lr counts the rounds, the channel pointer lives on the stack.
MD_PW_BLOCK_FUNCTION(FourPixelBlockAny,
                     "ldr r0, [sp, #24]\n\t"
                     "add r2, r0, #31\n\t"
                     "lsr r2, r2, #5\n\t"
                     "str r2, [sp, #24]\n\t"  // rounds
                     MD_PW_ENTRY
                     "str r0, [sp, #28]\n\t" MD_PW_EPILOGUE_CHOICE
                     "ldr lr, [sp, #16]\n"
                     "0:\n\t"
                     "ldrd r0, r1, [lr]\n\t"
                     "ldrd r2, r3, [lr]\n\t"
                     "ldrd r12, lr, [sp, #20]\n\t"
                     "ldr pc, [sp, #28]\n" MD_PW_EIGHT_STEPS
                     "subs lr, lr, #1\n\t"
                     "bne 10b\n\t"
                     "ldr pc, [sp, #36]\n"
                     "20:\n\t"
                     "ldr lr, [sp, #16]\n\t" MD_PW_REQUANT_STORE_LOOP("str lr, [sp, #16]\n\t")
                     "b 30f\n"
                     "21:\n\t"
                     "ldr lr, [sp, #16]\n\t" MD_PW_REQUANT_STORE_POST_LOOP(
                         "str lr, [sp, #16]\n\t")
                     "30:\n\t"
                     "add sp, sp, #40\n\t")

// Depths up to 32 with the filters widened ahead (SXTB16 pairs, depth / 2 words per channel,
// see pointwise_shallow_dsp.h), fused channels: one round entered part-way, so lr holds the
// channel pointer and no loop counter is needed, and one LDM loads a step's two filter pairs:
// 11 instructions for 16 MACs instead of 13. (It replaced a variant that took 29 + 13 per
// step on unwidened filters: 1x1 convolutions with 8 pixels or more widen theirs; the
// others, short windows gathered by im2col, take FourPixelBlockAny's single round, about one
// instruction more per channel.) Its step is pointwise_asm.h's MD_PW_WIDE_STEP.
MD_PW_BLOCK_FUNCTION(FourPixelBlockWide,
                     "ldr r0, [sp, #24]\n\t"
                     "rsb r0, r0, #0\n\t"
                     "and r0, r0, #31\n\t"  // 4 x the steps skipped
                     "add r1, r0, r0, lsl #1\n\t"
                     "add r0, r1, r0, lsl #3\n\t"  // x 11: their bytes
                     "adr.w r1, 10f\n\t"
                     "add r0, r0, r1\n\t"
                     "orr r0, r0, #1\n\t"
                     "str r0, [sp, #28]\n\t"
                     "ldrd lr, r12, [sp, #16]\n"
                     "0:\n\t"
                     "ldrd r0, r1, [lr]\n\t"
                     "ldrd r2, r3, [lr]\n\t"
                     "ldr pc, [sp, #28]\n"
                     "10:\n\t" MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP
                         MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP
                     "11:\n\t"
                     ".if (11b - 10b) - 352\n\t"
                     ".error \"MD_PW_WIDE_STEP is not 44 bytes\"\n\t"
                     ".endif\n\t"
                     "ldr r12, [sp, #20]\n\t" MD_PW_REQUANT_STORE_LOOP("") "add sp, sp, #40\n\t")

// Depths above 32 with the filters widened ahead (PointwiseDeepRuns), fused channels:
// FourPixelBlockAny's rounds (lr counts them, the channel pointer on the stack) over
// MD_PW_WIDE_STEP's steps, 11 instructions per 16 MACs instead of 13. Rounds of 16 values (four
// steps, the first entered part-way): 176 bytes less code than eight steps for 4 instructions
// more per channel and block at depth 64 (about 12K on person_detect).
MD_PW_BLOCK_FUNCTION(
    FourPixelBlockWideRounds,
    "ldr r0, [sp, #24]\n\t"
    "add r2, r0, #15\n\t"
    "lsr r2, r2, #4\n\t"
    "str r2, [sp, #24]\n\t"  // rounds
    "rsb r0, r0, #0\n\t"
    "and r0, r0, #15\n\t"  // 4 x the steps skipped
    "add r1, r0, r0, lsl #1\n\t"
    "add r0, r1, r0, lsl #3\n\t"  // x 11: their bytes
    "adr.w r1, 10f\n\t"
    "add r0, r0, r1\n\t"
    "orr r0, r0, #1\n\t"
    "str r0, [sp, #28]\n\t"
    "ldr lr, [sp, #16]\n"
    "0:\n\t"
    "ldrd r0, r1, [lr]\n\t"
    "ldrd r2, r3, [lr]\n\t"
    "ldrd r12, lr, [sp, #20]\n\t"
    "ldr pc, [sp, #28]\n"
    "10:\n\t" MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP
    "11:\n\t"
    ".if (11b - 10b) - 176\n\t"
    ".error \"MD_PW_WIDE_STEP is not 44 bytes\"\n\t"
    ".endif\n\t"
    "subs lr, lr, #1\n\t"
    "bne 10b\n\t"
    "ldr lr, [sp, #16]\n\t" MD_PW_REQUANT_STORE_LOOP("str lr, [sp, #16]\n\t") "add sp, sp, #40\n\t")

// One pixel: the filter's 16 values (four LDRs) against the pixel's 8 words (two LDMs into
// r5, r6, r8, r9), r10 the pair being multiplied, r0 the accumulator.
// clang-format off
#define MD_PW_ONE_PAIRS(w, p_even, p_odd) \
  "sxtb16 r10, " w "\n\t"                 \
  "smlad r0, r10, " p_even ", r0\n\t"     \
  "sxtb16 " w ", " w ", ror #8\n\t"       \
  "smlad r0, " w ", " p_odd ", r0\n\t"
#define MD_PW_ONE_8(w1, w2)                 \
  "ldr " w1 ", [r11], #4\n\t"               \
  "ldr " w2 ", [r11], #4\n\t"               \
  "ldmia r12!, {r5, r6, r8, r9}\n\t"        \
  MD_PW_ONE_PAIRS(w1, "r5", "r6") MD_PW_ONE_PAIRS(w2, "r8", "r9")
// clang-format on

// The channels [ch, ch_end) of one pixel (the pixel left after the blocks of four) with the
// output offset fused and the full int8 range: 1.5 instructions per MAC in rounds of 16 values
// (the C++ loop took 2.25) and about 20 per channel besides. Only out0 of the block is used.
MD_PW_BLOCK_FUNCTION(OnePixelFast, MD_PW_EPILOGUE_CHOICE
                     "ldr lr, [sp, #16]\n"
                     "0:\n\t"
                     "ldr r0, [lr]\n\t"
                     "ldrd r12, lr, [sp, #20]\n\t"
                     "subs lr, lr, #16\n\t"
                     "blt 2f\n"
                     "1:\n\t" MD_PW_ONE_8("r1", "r2") MD_PW_ONE_8("r3", "r4")
                     "subs lr, lr, #16\n\t"
                     "bge 1b\n"
                     "2:\n\t"
                     "tst lr, #8\n\t"
                     "beq 3f\n\t" MD_PW_ONE_8("r1", "r2")
                     "3:\n\t"
                     "tst lr, #4\n\t"
                     "beq 4f\n\t"
                     "ldr r1, [r11], #4\n\t"
                     "ldmia r12!, {r5, r6}\n\t" MD_PW_ONE_PAIRS("r1", "r5", "r6")
                     "4:\n\t"
                     "ldr pc, [sp, #36]\n"
                     "20:\n\t"
                     "ldr lr, [sp, #16]\n\t"
                     "ldmia lr!, {r4, r5, r6, r8, r9}\n\t"
                     "str lr, [sp, #16]\n\t" MD_PW_REQUANT("r0") "b 31f\n"
                     "21:\n\t"
                     "ldr lr, [sp, #16]\n\t"
                     "ldmia lr!, {r4, r5, r6, r8, r9}\n\t"
                     "str lr, [sp, #16]\n\t"
                     "ldr r4, [sp, #32]\n\t" MD_PW_REQUANT_POST("r0")
                     "31:\n\t"
                     "ldr r4, [sp]\n\t"
                     "strb r0, [r4], #1\n\t"
                     "str r4, [sp]\n\t"
                     "ldr r8, [sp, #12]\n\t"
                     "cmp lr, r8\n\t"
                     "bne 0b\n\t"
                     "add sp, sp, #40\n\t")

#undef MD_PW_ONE_8
#undef MD_PW_ONE_PAIRS
#undef MD_PW_BLOCK_FUNCTION

// The block's channels (filters as stored).
inline const int8_t* FourPixelBlockFast(const FourPixelBlock& b, const int8_t* f) {
  return FourPixelBlockAny(b, f);
}
#endif

#undef MD_PW_REQUANT_STORE_LOOP
#undef MD_PW_REQUANT_STORE_POST_LOOP
#undef MD_PW_STORE_LOOP
#undef MD_PW_EPILOGUE_CHOICE
#undef MD_PW_REQUANT_POST
#undef MD_PW_PROLOGUE
#undef MD_PW_ENTRY
#undef MD_PW_EIGHT_STEPS
#undef MD_PW_STEP

// The channels outside the assembly block loops (slow ones: output offset not fused, a clamp
// narrower than int8, a big bias; none in the reference models) still take their dot products in
// assembly, with registers the compiler picks: MD_PW_STEP's step in a loop of 4 values (15
// instructions per 16 MACs; written out in rounds it took 300 bytes more code).
#define MD_PW_NAMED_STEP                \
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

// acc[i] += sum_k filter[k] * pixel_i[k] for the four widened pixels; advances *filter.
__attribute__((always_inline)) inline void DotFourPixels(const int8_t** filter, const uint32_t* buf,
                                                         int32_t depth, int32_t& a0, int32_t& a1,
                                                         int32_t& a2, int32_t& a3) {
  const int8_t* f = *filter;
#if defined(__OPTIMIZE__)  // unoptimized builds keep a frame pointer: too few registers
  int32_t n = depth;       // > 0, a multiple of 4
  uint32_t w, w02;
  __asm__ volatile("1:\n\t" MD_PW_NAMED_STEP
                   "subs %[n], %[n], #4\n\t"
                   "bne 1b\n\t"
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

#undef MD_PW_NAMED_STEP

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

// The output value of channel c's doubled accumulator. A kFusedChannel has the output offset
// fused into its addend and the full int8 range (SSAT alone clamps).
// Otherwise the offset is added here and act_min/act_max clamp, and a channel with a big bias
// (its sum started at 0) takes bias + acc2 / 2 through ApplyRequant.
inline int8_t PointwiseOutput(const PointwiseDspArgs& a, const PointwiseChannel& k, int32_t c,
                              int32_t acc2) {
  if (a.kind[c] == kFusedChannel) {
    return static_cast<int8_t>(__ssat(RequantizeDoubled(k.q, acc2), 8));
  }
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

// The chunk's channels for one block of four widened pixels (buf): pixels 0/1 written at out0
// (+ out_depth), 2/3 at out2. Runs of fused or unfused channels go to FourPixelBlockFast,
// constant channels store their value, the others take DotFourPixels and PointwiseOutput.
// Not inlined: the 1x1 and the im2col chunks share it.
__attribute__((noinline)) inline void PointwiseBlockChannels(const PointwiseDspArgs& a,
                                                             const PointwiseChannel* ch,
                                                             const uint32_t* buf, int8_t* out0,
                                                             int8_t* out2) {
  const int32_t od = a.out_depth;
  const int8_t* f = a.filter;
  int32_t c = 0;
#if defined(__OPTIMIZE__)
  if (a.wide > 0) {
    const FourPixelBlock block = {out0, out2, od, ch + a.wide, ch, buf, a.depth, 0, 0, 0};
    const int8_t* const wide_filters = reinterpret_cast<const int8_t*>(a.wide_filters);
    if (a.depth <= 32) {
      FourPixelBlockWide(block, wide_filters);
    } else {
      FourPixelBlockWideRounds(block, wide_filters);
    }
    c = a.wide;
    f += a.wide * a.depth;
  }
  if (a.wide2 > 0) {
    const FourPixelBlock block = {out0 + c, out2 + c, od, ch + c + a.wide2, ch + c, buf, a.depth,
                                  0,        0,        0};
    FourPixelBlockWideRounds(block, reinterpret_cast<const int8_t*>(a.wide_filters2));
    c += a.wide2;
    f += a.wide2 * a.depth;
    if (c < a.channels) {  // PointwiseDeepRuns' tail: fused, one run
      const FourPixelBlock tail = {out0 + c, out2 + c, od, ch + a.channels, ch + c, buf, a.depth,
                                   0,        0,        0};
      f = FourPixelBlockAny(tail, f);
      c = a.channels;
    }
  }
#endif
  for (; c < a.channels; ++c) {
#if defined(__OPTIMIZE__)
    if (a.kind[c] <= kUnfusedChannel) {
      const int32_t run_end = a.run_end[c];
      const FourPixelBlock block = {
          out0 + c, out2 + c, od, ch + run_end,    ch + c,
          buf,      a.depth,  0,  a.output_offset, a.kind[c] == kUnfusedChannel};
      f = FourPixelBlockFast(block, f);
      c = run_end - 1;
      continue;
    }
#endif
    const PointwiseChannel k = ch[c];
    if (a.kind[c] == kConstantChannel) {
      const int8_t v = static_cast<int8_t>(k.bias2);
      out0[c] = v;
      out0[c + od] = v;
      out2[c] = v;
      out2[c + od] = v;
      f += a.depth;
      continue;
    }
    int32_t a0 = k.bias2, a1 = k.bias2, a2 = k.bias2, a3 = k.bias2;
    DotFourPixels(&f, buf, a.depth, a0, a1, a2, a3);
    out0[c] = PointwiseOutput(a, k, c, a0);
    out0[c + od] = PointwiseOutput(a, k, c, a1);
    out2[c] = PointwiseOutput(a, k, c, a2);
    out2[c + od] = PointwiseOutput(a, k, c, a3);
  }
}

// The chunk's channels for one widened pixel (buf), written at out.
__attribute__((noinline)) inline void PointwiseOnePixelChannels(const PointwiseDspArgs& a,
                                                                const PointwiseChannel* ch,
                                                                const uint32_t* buf, int8_t* out) {
  const int8_t* f = a.filter;
  for (int32_t c = 0; c < a.channels; ++c) {
#if defined(__OPTIMIZE__)
    if (a.kind[c] <= kUnfusedChannel) {
      const int32_t run_end = a.run_end[c];
      const FourPixelBlock one = {
          out + c, nullptr, 0, ch + run_end,    ch + c,
          buf,     a.depth, 0, a.output_offset, a.kind[c] == kUnfusedChannel};
      f = OnePixelFast(one, f);
      c = run_end - 1;
      continue;
    }
#endif
    if (a.kind[c] == kConstantChannel) {
      out[c] = static_cast<int8_t>(ch[c].bias2);
      f += a.depth;
      continue;
    }
    const int32_t acc = DotOnePixel(&f, buf, a.depth, ch[c].bias2);
    out[c] = PointwiseOutput(a, ch[c], c, acc);
  }
}

// Every pixel, channels [0, channels) of the args (one chunk). `ch` holds the channels'
// constants, `buf` 8 x depth / 4 words. Pixels go in blocks of four; a last block of 2 or 3
// pixels repeats some (2: p, p+1, p, p+1; 3: p, p+1, p+1, p+2) with its outputs placed so that
// a repeated pixel writes its value twice to the same place, and a last single pixel takes the
// one-pixel loop. (One function for 1x1 and im2col: a template took 250 bytes more code.)
inline void PointwiseDspChunk(const PointwiseDspArgs& a, const PointwiseChannel* ch,
                              uint32_t* buf) {
  // Row of each of the block's four pixels by the block's pixel count (2, 3, 4).
  static constexpr int8_t kRowOf[3][4] = {{0, 1, 0, 1}, {0, 1, 1, 2}, {0, 1, 2, 3}};
  const uint32_t off2 = static_cast<uint32_t>(2 * a.input_offset) & 0xFFFFu;
  const uint32_t off2x2 = off2 | (off2 << 16);
  const int32_t od = a.out_depth;
  int32_t p = 0;
  for (; a.pixels - p >= 2; p += 4) {
    const int32_t count = a.pixels - p < 4 ? a.pixels - p : 4;
    const int8_t* const rows = PixelRows(a, p, count, a.rows);
    const int8_t* px[4];
    for (int32_t i = 0; i < 4; ++i) px[i] = rows + kRowOf[count - 2][i] * a.depth;
    WidenFourPixels(px, a.depth, off2x2, buf);
    int8_t* const out0 = a.output + p * od;
    PointwiseBlockChannels(a, ch, buf, out0, out0 + kRowOf[count - 2][2] * od);
  }
  if (p < a.pixels) {  // one pixel left
    WidenOnePixel(PixelRows(a, p, 1, a.rows), a.depth, off2x2, buf);
    PointwiseOnePixelChannels(a, ch, buf, a.output + p * od);
  }
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_ARM_DSP

#endif  // MD_KERNELS_POINTWISE_DSP_H_
