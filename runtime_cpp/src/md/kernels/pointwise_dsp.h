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

#include "md/kernels/int8_opt.h"

#if MD_KERNELS_ARM_DSP

namespace md {
namespace opt {

// Largest depth the DSP 1x1 path widens on the stack (4 pixels x 256 x 2 bytes).
constexpr int32_t kPointwiseMaxDepth = 256;

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
  int32_t act_min, act_max;
};

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

// The requantization of RequantizeDoubledPortable in three instructions (SMMLAR, ADD, ASR).
inline int32_t RequantizeDoubled(const DoubledRequant& d, int32_t acc2) {
  int32_t h;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(h) : "r"(acc2), "r"(d.multiplier), "r"(d.addend));
  return (h + (acc2 >> 31)) >> d.shift;
}

template <bool kFullRange>
inline int8_t ClampToInt8(int32_t v, int32_t act_min, int32_t act_max) {
  if (kFullRange) return static_cast<int8_t>(__ssat(v, 8));
  v = v < act_min ? act_min : v;
  v = v > act_max ? act_max : v;
  return static_cast<int8_t>(v);
}

// One 4-value step of DotFourPixels: filter word -> two pairs, 8 SMLADs.
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

// acc[i] += sum_k filter[k] * pixel_i[k] over `depth` values (a multiple of 4) of the four
// widened pixels; advances *filter by depth. Rounds of 16 values, then 8 and 4. r4-r6 and r8
// hold the loaded words (LDM's list must be ascending; r7 may be the frame pointer).
__attribute__((always_inline)) inline void DotFourPixels(const int8_t** filter, const uint32_t* buf,
                                                         int32_t depth, int32_t& a0, int32_t& a1,
                                                         int32_t& a2, int32_t& a3) {
  const int8_t* f = *filter;
  int32_t n = depth;
  uint32_t w, w02;
  __asm__ volatile(
      "subs %[n], %[n], #16\n\t"
      "blt 2f\n"
      "1:\n\t" MD_PW_STEP MD_PW_STEP MD_PW_STEP MD_PW_STEP
      "subs %[n], %[n], #16\n\t"
      "bge 1b\n"
      "2:\n\t"  // n = depth mod 16 - 16: the same low four bits as depth
      "tst %[n], #8\n\t"
      "beq 3f\n\t" MD_PW_STEP MD_PW_STEP
      "3:\n\t"
      "tst %[n], #4\n\t"
      "beq 4f\n\t" MD_PW_STEP "4:\n\t"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [f] "+r"(f), [buf] "+r"(buf),
        [n] "+r"(n), [w] "=&r"(w), [w02] "=&r"(w02)
      :
      : "r4", "r5", "r6", "r8", "cc", "memory");
  *filter = f;
}

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

// Every pixel, channels [0, channels) of the args (one chunk). `ch` holds the channels'
// constants, `buf` 8 x depth / 4 words.
template <bool kFullRange>
void PointwiseDspChunk(const PointwiseDspArgs a, const PointwiseChannel* ch, uint32_t* buf) {
  const uint32_t off2 = static_cast<uint32_t>(2 * a.input_offset) & 0xFFFFu;
  const uint32_t off2x2 = off2 | (off2 << 16);
  const int32_t od = a.out_depth;
  int32_t p = 0;
  for (; p + 4 <= a.pixels; p += 4) {
    WidenPixels(a.input + p * a.depth, a.depth, 4, off2x2, buf);
    int8_t* out = a.output + p * od;
    const int8_t* f = a.filter;
    for (int32_t c = 0; c < a.channels; ++c) {
      const PointwiseChannel k = ch[c];
      int32_t a0 = k.bias2, a1 = k.bias2, a2 = k.bias2, a3 = k.bias2;
      DotFourPixels(&f, buf, a.depth, a0, a1, a2, a3);
      out[c] = ClampToInt8<kFullRange>(RequantizeDoubled(k.q, a0), a.act_min, a.act_max);
      out[c + od] = ClampToInt8<kFullRange>(RequantizeDoubled(k.q, a1), a.act_min, a.act_max);
      out[c + 2 * od] = ClampToInt8<kFullRange>(RequantizeDoubled(k.q, a2), a.act_min, a.act_max);
      out[c + 3 * od] = ClampToInt8<kFullRange>(RequantizeDoubled(k.q, a3), a.act_min, a.act_max);
    }
  }
  for (; p < a.pixels; ++p) {
    WidenPixels(a.input + p * a.depth, a.depth, 1, off2x2, buf);
    int8_t* out = a.output + p * od;
    const int8_t* f = a.filter;
    for (int32_t c = 0; c < a.channels; ++c) {
      const int32_t acc = DotOnePixel(&f, buf, a.depth, ch[c].bias2);
      out[c] = ClampToInt8<kFullRange>(RequantizeDoubled(ch[c].q, acc), a.act_min, a.act_max);
    }
  }
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_ARM_DSP

#endif  // MD_KERNELS_POINTWISE_DSP_H_
