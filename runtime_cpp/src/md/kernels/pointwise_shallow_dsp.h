// Shallow inputs on the Cortex-M DSP path of 1x1 convolutions (pointwise_dsp.h's chunks whose
// channels are all kFusedChannel), where the four-pixel block's per-block and per-channel work
// outweighs the short dot product.
//
// Depth 8, an even channel count (PointwiseShallowRuns): one pixel at a time, its 8 values
// widened with the input offset folded (x + off, two SXTAB16 per word) into four registers,
// then every channel of the chunk against it. A channel's bias, requantization constants and
// filter (widened and doubled ahead: 2 w pairs, so the sums are pointwise_dsp.h's doubled
// ones) are one 32-byte record that two LDMs read, so an output costs 2 LDMs, 4 SMLADs, the
// 4-instruction requantization, one STRB and a quarter of a loop test: 11.5 instructions for
// 8 MACs, and 13 per pixel (the four-pixel block took about 17 per output with its per-block
// work). Records are built per call in the pixel buffer (64 channels x 32 bytes = its 2 KB).
//
// Depths up to 32 (WidenFiltersAhead): the four-pixel blocks with filters widened once per
// call (FourPixelBlockWide in pointwise_dsp.h).
//
// Depths above 32 (PointwiseDeepRuns), where it pays: the same in passes of up to 28 channels
// (depth 64) whose filters fit the pixel buffer and a 2 KB stack buffer, the pixels widened
// again per pass (FourPixelBlockWideRounds).
//
// Bit-exact as the four-pixel block: the same exact integer sums in another order, the same
// RequantizeDoubled.
#ifndef MD_KERNELS_POINTWISE_SHALLOW_DSP_H_
#define MD_KERNELS_POINTWISE_SHALLOW_DSP_H_

#include <cstdint>

#include "md/kernels/pointwise_dsp.h"

#if MD_KERNELS_ARM_DSP

namespace md {
namespace opt {

constexpr int32_t kShallowDepth = 8;
// Deepest input whose filters PointwiseWideRuns widens (FourPixelBlockWide's eight steps).
constexpr int32_t kWideMaxDepth = 32;

// One channel, in the order the assembly's LDMs read it.
struct ShallowRecord {
  int32_t bias2;
  DoubledRequant q;
  uint32_t filter[4];  // 2 x (w0, w2), (w1, w3), (w4, w6), (w5, w7)
};
static_assert(sizeof(ShallowRecord) == 32, "two LDMs read a record");
static_assert(kPointwiseChunk * sizeof(ShallowRecord) <= 2 * kPointwiseMaxDepth * sizeof(uint32_t),
              "a chunk's records fit in the pixel buffer");

// What the assembly copies onto its stack (sp + 0 .. 28, in this order: LDM/LDRD groups).
struct ShallowPixels {
  uint32_t offset2;     // the input offset in both halves
  const int8_t* input;  // the next pixel
  const ShallowRecord* ch;
  int32_t output_gap;           // out_depth - channels
  const int8_t* output_end;     // past the last pixel's outputs
  const ShallowRecord* ch_end;  // an even number of records after ch
  int8_t* output;               // pixel 0, the chunk's first channel
  int32_t odd_pair;             // channels % 4 == 2 (then the first round takes two channels)
};

#if defined(__OPTIMIZE__)
// One channel against the pixel in r0-r3: r11 the records, r12 the output; r4 the accumulator,
// r5/r6/r8 multiplier/addend/shift, r9/r10 filter pairs.
// clang-format off
#define MD_SH_CHANNEL                         \
  "ldmia r11!, {r4, r5, r6, r8, r9, r10}\n\t" \
  "smlad r4, r9, r0, r4\n\t"                  \
  "smlad r4, r10, r1, r4\n\t"                 \
  "ldmia r11!, {r9, r10}\n\t"                 \
  "smlad r4, r9, r2, r4\n\t"                  \
  "smlad r4, r10, r3, r4\n\t"                 \
  "smmlar r9, r4, r5, r6\n\t"                 \
  "add r9, r9, r4, asr #31\n\t"               \
  "asr r9, r9, r8\n\t"                        \
  "ssat r9, #8, r9\n\t"                       \
  "strb r9, [r12], #1\n\t"
// (x + off) pairs of the pixel word in `w` (the offsets in r4): (x0, x2) to e, (x1, x3) to o.
#define MD_SH_WIDEN(w, e, o)                  \
  "sxtab16 " e ", r4, " w "\n\t"              \
  "sxtab16 " o ", r4, " w ", ror #8\n\t"
// clang-format on

// Every pixel of `s` against its records: four channels per loop test, the first round of a
// pixel entered in its middle when the count is 2 mod 4 (an LDR PC per pixel, its address at
// sp + 28); lr holds ch_end.
__attribute__((noinline)) inline void ShallowPixelsFast(const ShallowPixels& s) {
  register const ShallowPixels* args __asm__("r12") = &s;
  // clang-format off
  __asm__ volatile(
      "ldmia r12, {r0, r1, r2, r3, r4, r5, r6, r8}\n\t"
      "push {r0, r1, r2, r3, r4, r5, r6, r8}\n\t"
      "mov r12, r6\n\t"
      "mov lr, r5\n\t"
      "adr.w r0, 2f\n\t"
      "cmp r8, #0\n\t"
      "beq 5f\n\t"
      "adr.w r0, 3f\n"
      "5:\n\t"
      "orr r0, r0, #1\n\t"  // Thumb
      "str r0, [sp, #28]\n"
      "1:\n\t"
      "ldmia sp, {r4, r8, r11}\n\t"
      "ldr r5, [r8], #4\n\t"  // (LDR: activations need not be word-aligned)
      "ldr r6, [r8], #4\n\t"
      "str r8, [sp, #4]\n\t"
      MD_SH_WIDEN("r5", "r0", "r1")
      MD_SH_WIDEN("r6", "r2", "r3")
      "ldr pc, [sp, #28]\n"
      "2:\n\t"
      MD_SH_CHANNEL
      MD_SH_CHANNEL
      "3:\n\t"
      MD_SH_CHANNEL
      MD_SH_CHANNEL
      "cmp r11, lr\n\t"
      "bne 2b\n\t"
      "ldrd r9, r10, [sp, #12]\n\t"
      "add r12, r12, r9\n\t"
      "cmp r12, r10\n\t"
      "bne 1b\n\t"
      "add sp, sp, #32\n\t"
      : "+r"(args)
      :
      : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "lr", "cc", "memory");
  // clang-format on
}
#undef MD_SH_WIDEN
#undef MD_SH_CHANNEL

// Runs the chunk `a` (1x1) on this path when it applies (depth 8, an even number of channels,
// all kFusedChannel), building the records in `buf`; false, having written nothing, otherwise.
inline bool PointwiseShallowRuns(const PointwiseDspArgs& a, const PointwiseChannel* ch,
                                 uint32_t* buf) {
  if (a.depth != kShallowDepth || a.channels % 2 != 0 || a.pixels <= 0 ||
      a.kind[0] != kFusedChannel || a.run_end[0] != a.channels) {
    return false;
  }
  ShallowRecord* const records = reinterpret_cast<ShallowRecord*>(buf);
  const int8_t* f = a.filter;
  for (int32_t c = 0; c < a.channels; ++c, f += kShallowDepth) {
    ShallowRecord& r = records[c];
    r.bias2 = ch[c].bias2;
    r.q = ch[c].q;
    const uint32_t w0 = LoadWord(f), w1 = LoadWord(f + 4);
    r.filter[0] = Sxtab16(Sxtb16(w0), w0);
    r.filter[1] = Sxtab16Ror8(Sxtb16Ror8(w0), w0);
    r.filter[2] = Sxtab16(Sxtb16(w1), w1);
    r.filter[3] = Sxtab16Ror8(Sxtb16Ror8(w1), w1);
  }
  const uint32_t off = static_cast<uint32_t>(a.input_offset) & 0xFFFFu;
  const ShallowPixels s = {off | (off << 16),
                           a.input,
                           records,
                           a.out_depth - a.channels,
                           a.output + a.pixels * a.out_depth,
                           records + a.channels,
                           a.output,
                           a.channels % 4};
  ShallowPixelsFast(s);
  return true;
}

// The SXTB16 pairs of `words` filter words at f (any alignment) into w: word-aligned, four
// words per LDM and loop test, 3 instructions a word; else two words per loop test, 5 a word
// (GCC's loop took 8; this runs for every band of a stage). Not inlined: four callers.
__attribute__((noinline)) inline void WidenFilterWords(const int8_t* f, int32_t words,
                                                       uint32_t* w) {
  if ((reinterpret_cast<uintptr_t>(f) & 3) == 0 && words >= 4) {
    // Word-aligned filters (as models store them): four words per LDM, 3 instructions a word.
    const uint32_t* const end = w + 2 * (words & ~3);
    __asm__ volatile(
        "1:\n\t"
        "ldmia %[f]!, {r2, r4, r6, r9}\n\t"
        "sxtb16 r1, r2\n\t"
        "sxtb16 r2, r2, ror #8\n\t"
        "sxtb16 r3, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "sxtb16 r5, r6\n\t"
        "sxtb16 r6, r6, ror #8\n\t"
        "sxtb16 r8, r9\n\t"
        "sxtb16 r9, r9, ror #8\n\t"
        "stmia %[w]!, {r1, r2, r3, r4, r5, r6, r8, r9}\n\t"
        "cmp %[w], %[end]\n\t"
        "bne 1b\n\t"
        : [f] "+r"(f), [w] "+r"(w)
        : [end] "r"(end)
        : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "cc", "memory");
    words &= 3;
  }
  if (words >= 2) {
    const uint32_t* const end = w + 2 * (words & ~1);
    __asm__ volatile(
        "1:\n\t"
        "ldr r4, [%[f]], #4\n\t"
        "ldr r6, [%[f]], #4\n\t"
        "sxtb16 r5, r4, ror #8\n\t"
        "sxtb16 r4, r4\n\t"
        "sxtb16 r8, r6, ror #8\n\t"
        "sxtb16 r6, r6\n\t"
        "stmia %[w]!, {r4, r5, r6, r8}\n\t"
        "cmp %[w], %[end]\n\t"
        "bne 1b\n\t"
        : [f] "+r"(f), [w] "+r"(w)
        : [end] "r"(end)
        : "r4", "r5", "r6", "r8", "cc", "memory");
  }
  if (words % 2 != 0) {
    const uint32_t v = LoadWord(f);
    w[0] = Sxtb16(v);
    w[1] = Sxtb16Ror8(v);
  }
}

// Depths up to 32 otherwise (1x1, at least 8 pixels, the first channel kFusedChannel): `a`
// with the filters of its first run of fused channels, as many as the pixel buffer holds
// after the four widened pixels, widened once per call into it for FourPixelBlockWide (the
// copy's `wide` channels; PointwiseDspChunk then runs as usual). Else `a` as it is.
inline PointwiseDspArgs WidenFiltersAhead(const PointwiseDspArgs& a, uint32_t* buf) {
  const int32_t depth = a.depth;
  PointwiseDspArgs wide = a;
  if (depth > kWideMaxDepth || a.pixels < 8 || a.kind[0] != kFusedChannel) return wide;
  // Words: the four pixels 2 x depth, then depth / 2 per channel.
  const int32_t capacity = (2 * kPointwiseMaxDepth - 2 * depth) / (depth / 2);
  wide.wide = a.run_end[0] < capacity ? a.run_end[0] : capacity;
  wide.wide_filters = buf + 2 * depth;
  WidenFilterWords(a.filter, wide.wide * depth / 4, buf + 2 * depth);
  return wide;
}

// Words of the deep path's second filter buffer (2 KB on the stack, PointwiseDeepRuns' frame).
constexpr int32_t kDeepFilterWords = 512;
// Channels left after a pass that it runs too, on their filters as stored (FourPixelBlockAny):
// a pass of r more channels would widen every block again (26 instructions per 4 values, and
// two more block calls) to save 2 r, which pays from about 16 channels on.
constexpr int32_t kDeepTailChannels = 16;

// Whether widening the filters ahead pays for a depth above 32 with `per_pass` channels widened
// per pass over the pixels, on `pixels` pixels. Per pixel, channel and 4 values (a filter word
// against a pixel word) the wide steps save 2 of 13 instructions over 4 pixels, 0.5, and the
// single pixel widening per 64 channels is no longer paid (6.5 per pixel word / 64); against
// that the pixels are widened again per pass (6.5 / per_pass) and each filter word once per
// call (4.5 / pixels). Net 0.6 - 6.5 / K - 4.5 / P, asked to reach 0.1 (the extra block calls
// and their setup): (K - 13) P >= 9 K. Depth 64 (28 channels per pass) from 17 pixels on;
// depth 128 (12 channels) never.
inline bool DeepWidePays(int32_t per_pass, int32_t pixels) {
  return (per_pass - 13) * pixels >= 9 * per_pass;
}

// Depths above 32 (1x1, all channels of the chunk kFusedChannel, where DeepWidePays): the
// channels in passes of as many as the pixel buffer holds after the four widened pixels plus
// kDeepFilterWords more, their filters widened once per pass (WidenFilterWords), every block of
// four pixels widened again per pass and run against them by FourPixelBlockWideRounds (one call
// per buffer), up to kDeepTailChannels left after a pass joining it unwidened. Depth 64: 12 + 16
// channels per pass, a 64-channel chunk in passes of 28 and 28 + 8. False, having written
// nothing, when it does not apply.
__attribute__((noinline)) inline bool PointwiseDeepRuns(const PointwiseDspArgs& a,
                                                        const PointwiseChannel* ch, uint32_t* buf) {
  const int32_t depth = a.depth;
  if (depth <= kWideMaxDepth || a.pixels <= 0 || a.kind[0] != kFusedChannel ||
      a.run_end[0] != a.channels) {
    return false;
  }
  const int32_t words = depth / 2;  // a widened filter
  const int32_t first = (2 * kPointwiseMaxDepth - 2 * depth) / words;
  const int32_t second = kDeepFilterWords / words;
  if (!DeepWidePays(first + second, a.pixels)) return false;
  uint32_t filters2[kDeepFilterWords];
  PointwiseDspArgs pass = a;
  pass.wide_filters = buf + 2 * depth;
  pass.wide_filters2 = filters2;
  // One fused run: only run_end[0] is read (by the single last pixel's loop).
  int32_t run_end = 0;
  pass.run_end = &run_end;
  for (int32_t k0 = 0; k0 < a.channels; k0 += pass.channels) {
    const int32_t left = a.channels - k0;
    pass.wide = left < first ? left : first;
    pass.wide2 = left - pass.wide < second ? left - pass.wide : second;
    pass.channels = pass.wide + pass.wide2;
    if (left - pass.channels <= kDeepTailChannels) pass.channels = left;
    run_end = pass.channels;
    pass.filter = a.filter + k0 * depth;
    pass.output = a.output + k0;
    pass.kind = a.kind + k0;
    WidenFilterWords(pass.filter, pass.wide * depth / 4, buf + 2 * depth);
    WidenFilterWords(pass.filter + pass.wide * depth, pass.wide2 * depth / 4, filters2);
    PointwiseDspChunk(pass, ch + k0, buf);
  }
  return true;
}
#else
inline bool PointwiseDeepRuns(const PointwiseDspArgs&, const PointwiseChannel*, uint32_t*) {
  return false;
}
inline bool PointwiseShallowRuns(const PointwiseDspArgs&, const PointwiseChannel*, uint32_t*) {
  return false;
}
inline PointwiseDspArgs WidenFiltersAhead(const PointwiseDspArgs& a, uint32_t*) { return a; }
#endif

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_ARM_DSP

#endif  // MD_KERNELS_POINTWISE_SHALLOW_DSP_H_
