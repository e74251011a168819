// Deep 1x1 convolutions on the Cortex-M DSP path channel-major, with the op's pixels widened
// once per Invoke into "spare scratch" (head bytes no live buffer uses at the op, granted by the
// planner without growing the arena: OpContext::RequestSpareScratch).
//
// pointwise_dsp.h's four-pixel blocks widen the pixels per block and 64-channel chunk and read
// the filters as stored (13 instructions per 16 MACs); filters widened ahead (11) do not fit a
// stack buffer at depth 128 and above. Here (PointwiseLayerRuns, 1x1, a chunk whose channels
// are all kFusedChannel, depth >= kLayerMinDepth, when the grant holds every pixel):
// - every pixel of the op is widened once (the first such chunk; later chunks reuse it) in
//   WidenFourPixels' layout, blocks of four contiguous; the pixels left after the blocks, 2 or 3,
//   as one more block of the op's last four pixels (it overlaps the previous block, whose
//   outputs it writes again with the same values), a single last pixel as one pixel;
// - then per output channel: its filter widened once (WidenFilterWords, channels in groups that
//   fill the 2 KB stack buffer), run against every block (WideChannelsBlocks: MD_PW_WIDE_STEP's
//   11 instructions per 16 MACs in rounds of 8 steps, the channel's constants on the stack once
//   per channel, about 30 instructions per channel and block besides the dot product instead of
//   about 40), then against a last single pixel in the same function (two LDMs and four SMLADs
//   per 8 values instead of OnePixelFast's 12 instructions).
// A grant that holds only part of the op's widened pixels (at least kLayerMinSegmentBlocks
// blocks) runs them in segments of about equal blocks: a segment widened, every filter widened
// again and run against its blocks, the next segment (each chunk widens the pixels again).
//
// Bit-exact as the four-pixel block: the same exact integer sums (doubled, the input offset
// folded into the pixels) in another order, the same RequantizeDoubled.
#ifndef MD_KERNELS_POINTWISE_LAYER_DSP_H_
#define MD_KERNELS_POINTWISE_LAYER_DSP_H_

#include <cstddef>
#include <cstdint>

#include "md/kernels/pointwise_dsp.h"
#include "md/kernels/pointwise_shallow_dsp.h"

namespace md {
namespace opt {

// Depths from which the channel-major path runs (CONV_2D's prepare asks for spare scratch for
// 1x1 ops from this depth on, on every target, so that host and device plan the same).
constexpr int32_t kLayerMinDepth = 64;
// Pixels it needs (one block of four).
constexpr int32_t kLayerMinPixels = 4;

// Bytes of the widened pixels of an op of `pixels` pixels of `depth` values: 8 x depth per block
// of four, a last 2 or 3 as one more block, a last single pixel 2 x depth.
constexpr size_t PointwiseLayerSpareBytes(int32_t pixels, int32_t depth) {
  return static_cast<size_t>(pixels / 4 + (pixels % 4 >= 2 ? 1 : 0)) * 8u *
             static_cast<size_t>(depth) +
         (pixels % 4 == 1 ? 2u * static_cast<size_t>(depth) : 0u);
}

// Blocks of four a grant smaller than the op's widened pixels must hold at least (conv_2d.cc asks
// for PointwiseLayerMinSpareBytes): each segment widens every filter again, about 75
// instructions per channel at depth 64, which the channel-major steps win back on about 4 blocks
// (about 20 per channel and block against PointwiseDeepRuns). Measured on person_detect's 12x12
// 64 -> 64 (36 blocks) with segments capped at K blocks, against PointwiseDeepRuns: K = 3 +8.5K
// instructions, 4 -6.0K, 6 -20.5K, 8 -25.3K, its grant's 15 -35.3K; 8 keeps over half the gain.
constexpr int32_t kLayerMinSegmentBlocks = 8;

// The least spare scratch the path runs with: kLayerMinSegmentBlocks blocks, and room for a
// last single pixel (it runs in the last segment), or all of PointwiseLayerSpareBytes if less.
constexpr size_t PointwiseLayerMinSpareBytes(int32_t pixels, int32_t depth) {
  const size_t segment =
      static_cast<size_t>(kLayerMinSegmentBlocks) * 8u * static_cast<size_t>(depth) +
      (pixels % 4 == 1 ? 2u * static_cast<size_t>(depth) : 0u);
  const size_t whole = PointwiseLayerSpareBytes(pixels, depth);
  return segment < whole ? segment : whole;
}

// The spare scratch one Invoke of an op hands down (words nullptr: none), and whether its
// pixels were widened into it by an earlier chunk of this Invoke.
struct PointwiseSpare {
  uint32_t* words = nullptr;
  size_t bytes = 0;
  bool widened = false;
};

#if MD_KERNELS_ARM_DSP
#if defined(__OPTIMIZE__)

// What WideChannelsBlocks copies onto its stack (17 words, in this order: the assembly's LDM and
// LDRD groups). C++ fills the fields marked "in"; the assembly keeps the others per channel.
struct WideChannels {
  int8_t* out;                 // in: channel 0's output of block 0 (then the current block's)
  int32_t out_depth;           // in
  int32_t q[3];                // multiplier, addend, shift (per channel)
  int8_t* out_end;             // in: channel 0's output past the last block (then the channel's)
  int32_t out_depth3;          // in: 3 x out_depth
  int32_t bias2[2];            // per channel
  const uint32_t* filter;      // in: channel 0's widened filter (then the channel's)
  int32_t rounds;              // in: rounds of 8 steps (32 values), the first partial
  int32_t entry;               // in: bytes of the steps the first round skips
  const PointwiseChannel* ch;  // in: the first channel's constants
  const PointwiseChannel* ch_end;  // in
  const uint32_t* pixels;          // in: the widened blocks
  int8_t* out_begin;               // in: = out (then the channel's)
  int32_t filter_bytes;            // in: 2 x depth
  int32_t single;                  // in: a last single pixel follows the blocks (else 0)
};
static_assert(sizeof(WideChannels) == 18 * 4, "the assembly's frame");

// 8 values of one pixel: filter pairs r1-r4 (LDM), pixel words r5/r6/r8/r9 (LDM), r0 the sum.
#define MD_PL_ONE_8                  \
  "ldmia r11!, {r1, r2, r3, r4}\n\t" \
  "ldmia r12!, {r5, r6, r8, r9}\n\t" \
  "smlad r0, r1, r5, r0\n\t"         \
  "smlad r0, r2, r6, r0\n\t"         \
  "smlad r0, r3, r8, r0\n\t"         \
  "smlad r0, r4, r9, r0\n\t"

// Channels [ch, ch_end) against the blocks [pixels, ...) whose outputs run from out to out_end
// (4 x out_depth apart), channel-major: r0-r3 the accumulators, r4-r6/r8 pixel words, r9/r10
// the filter pair, r11 the filter, r12 the pixels (continuing from block to block), lr the
// rounds; after the dot product r4 the output, r5 out_depth, lr 3 x out_depth, r11 out_end.
__attribute__((noinline)) inline void WideChannelsBlocks(const WideChannels& w) {
  register const WideChannels* args __asm__("r12") = &w;
  // clang-format off
  __asm__ volatile(
      "add r12, r12, #40\n\t"
      "ldmia r12, {r0, r1, r2, r3, r4, r5, r6, r8}\n\t"
      "push {r0, r1, r2, r3, r4, r5, r6, r8}\n\t"
      "sub r12, r12, #40\n\t"
      "ldmia r12, {r0, r1, r2, r3, r4, r5, r6, r8, r9, r10}\n\t"
      "push {r0, r1, r2, r3, r4, r5, r6, r8, r9, r10}\n\t"
      "ldr r0, [sp, #44]\n\t"
      "adr.w r1, 10f\n\t"
      "add r0, r0, r1\n\t"
      "orr r0, r0, #1\n\t"  // Thumb
      "str r0, [sp, #44]\n\t"
      "ldr lr, [sp, #48]\n"
      "0:\n\t"  // a channel: its constants onto the stack
      "ldmia lr!, {r0, r1, r4, r5, r6}\n\t"
      "str lr, [sp, #48]\n\t"
      "strd r0, r1, [sp, #28]\n\t"
      "strd r4, r5, [sp, #8]\n\t"
      "str r6, [sp, #16]\n\t"
      "ldr r12, [sp, #56]\n"
      "1:\n\t"  // a block
      "ldrd r0, r1, [sp, #28]\n\t"
      "ldrd r2, r3, [sp, #28]\n\t"
      "ldrd r11, lr, [sp, #36]\n\t"
      "ldr pc, [sp, #44]\n"
      "10:\n\t"
      MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP
      MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP MD_PW_WIDE_STEP
      "11:\n\t"
      ".if (11b - 10b) - 352\n\t"
      ".error \"MD_PW_WIDE_STEP is not 44 bytes\"\n\t"
      ".endif\n\t"
      "subs lr, lr, #1\n\t"
      "bne 10b\n\t"
      "ldmia sp, {r4, r5, r6, r8, r9, r11, lr}\n\t"
      MD_PW_REQUANT("r0") MD_PW_REQUANT("r1") MD_PW_REQUANT("r2") MD_PW_REQUANT("r3")
      "strb r0, [r4]\n\t"
      "strb r1, [r4, r5]\n\t"
      "strb r2, [r4, r5, lsl #1]\n\t"
      "strb r3, [r4, lr]\n\t"
      "add r4, r4, r5, lsl #2\n\t"
      "str r4, [sp]\n\t"
      "cmp r4, r11\n\t"
      "bne 1b\n\t"
      // A last single pixel: its words follow the blocks' (r12), its output the last block's
      // (r4); 14 instructions per 16 values on the widened filter.
      "ldr r6, [sp, #68]\n\t"
      "cmp r6, #0\n\t"
      "beq 5f\n\t"
      "ldr r0, [sp, #28]\n\t"
      "ldr r11, [sp, #36]\n\t"
      "ldr lr, [sp, #64]\n\t"  // the filter's bytes: 32 per 16 values
      "subs lr, lr, #32\n\t"
      "blt 7f\n"
      "6:\n\t" MD_PL_ONE_8 MD_PL_ONE_8
      "subs lr, lr, #32\n\t"
      "bge 6b\n"
      "7:\n\t"  // lr = bytes mod 32 - 32: the same low 5 bits
      "tst lr, #16\n\t"
      "beq 8f\n\t" MD_PL_ONE_8
      "8:\n\t"
      "tst lr, #8\n\t"
      "beq 9f\n\t"
      "ldmia r11!, {r1, r2}\n\t"
      "ldmia r12!, {r5, r6}\n\t"
      "smlad r0, r1, r5, r0\n\t"
      "smlad r0, r2, r6, r0\n"
      "9:\n\t"
      "ldmia sp, {r4, r5, r6, r8, r9, r11}\n\t" MD_PW_REQUANT("r0")
      "strb r0, [r4]\n"
      "5:\n\t"
      // The next channel: outputs one byte on, the filter 2 x depth bytes on.
      "ldrd r4, r5, [sp, #60]\n\t"
      "add r4, r4, #1\n\t"
      "str r4, [sp, #60]\n\t"
      "str r4, [sp]\n\t"
      "add r11, r11, #1\n\t"
      "str r11, [sp, #20]\n\t"
      "ldr r6, [sp, #36]\n\t"
      "add r6, r6, r5\n\t"
      "str r6, [sp, #36]\n\t"
      "ldrd lr, r8, [sp, #48]\n\t"
      "cmp lr, r8\n\t"
      "bne 0b\n\t"
      "add sp, sp, #72\n\t"
      : "+r"(args)
      :
      : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "lr", "cc", "memory");
  // clang-format on
}
#undef MD_PL_ONE_8

// Widens the op's blocks [u0, u1) (1x1: a.input, a.pixels rows of a.depth; block a.pixels / 4,
// when there, the last four pixels for a last 2 or 3) into `words` in the layout
// PointwiseLayerRuns reads (PointwiseLayerSpareBytes), a last single pixel after them when u1 is
// the last block. Once per op or segment: compiled for size (MD_INIT_CODE: cold).
MD_INIT_CODE __attribute__((noinline)) inline void WidenLayerPixels(const PointwiseDspArgs& a,
                                                                    int32_t u0, int32_t u1,
                                                                    uint32_t* words) {
  const uint32_t off2 = static_cast<uint32_t>(2 * a.input_offset) & 0xFFFFu;
  const uint32_t off2x2 = off2 | (off2 << 16);
  const int32_t depth = a.depth;
  const int8_t* px[4];
  for (int32_t b = u0; b < u1; ++b, words += 2 * depth) {
    // The last 2 or 3 pixels: a block of the last four.
    const int32_t first = 4 * b < a.pixels - 4 ? 4 * b : a.pixels - 4;
    for (int32_t i = 0; i < 4; ++i) px[i] = a.input + (first + i) * depth;
    WidenFourPixels(px, depth, off2x2, words);
  }
  if (a.pixels % 4 == 1 && u1 == a.pixels / 4) {
    WidenOnePixel(a.input + (a.pixels - 1) * depth, depth, off2x2, words);
  }
}

// One call of WideChannelsBlocks per segment and group of channels: channel 0's output of its
// first block, its outputs' bytes (pass[1]: 0 when no call), its widened blocks.
struct LayerPass {
  int8_t* out;
  int32_t span;
  const uint32_t* pixels;
};

// The chunk's channels against one segment's widened blocks: per group of channels whose widened
// filters fill `buf` (WidenFilterWords), WideChannelsBlocks for the segment's blocks of four
// (pass[0]), then for the block of the op's last four pixels (pass[1], after a last 2 or 3).
__attribute__((noinline)) inline void LayerSegmentRuns(const PointwiseDspArgs& a,
                                                       const PointwiseChannel* ch, uint32_t* buf,
                                                       WideChannels& w, const LayerPass* pass) {
  const int32_t depth = a.depth;
  const int32_t group = 2 * kPointwiseMaxDepth / (depth / 2);  // filters the buffer holds
  for (int32_t c = 0; c < a.channels; c += group) {
    const int32_t n = a.channels - c < group ? a.channels - c : group;
    WidenFilterWords(a.filter + c * depth, (n * depth) >> 2, buf);
    w.ch = ch + c;
    w.ch_end = ch + c + n;
    int32_t p = 0;
    do {  // pass[0] has blocks: a segment has at least 2, only its last can be pass[1]
      w.out = w.out_begin = pass[p].out + c;
      w.out_end = w.out + pass[p].span;
      w.pixels = pass[p].pixels;
      WideChannelsBlocks(w);
    } while (++p < 2 && pass[1].span != 0);
  }
}

// Runs the chunk `a` (1x1) channel-major on the pixels widened into `spare` (widening them when
// no earlier chunk of this Invoke did), the filters widened per group of channels into `buf`
// (2 x kPointwiseMaxDepth words), when it applies: depth >= kLayerMinDepth, at least
// kLayerMinPixels pixels, every channel kFusedChannel, a grant of at least
// PointwiseLayerMinSpareBytes. A grant that holds only part of the op's widened pixels runs
// them in segments of about equal blocks (each at least half the grant's, so at least 2): a
// segment widened, then every group of filters widened again and run against its blocks; the
// last segment takes the op's last 2 or 3 pixels' block or its last single pixel. False, having
// written nothing, otherwise. Not cold (MD_INIT_CODE), nor LayerSegmentRuns: they run per chunk
// (this one per band of a stage's 1x1 ops too, to return at once); compiled for speed they take
// 2.2K fewer instructions of person_detect's Invoke for 60 B.
__attribute__((noinline)) inline bool PointwiseLayerRuns(const PointwiseDspArgs& a,
                                                         const PointwiseChannel* ch, uint32_t* buf,
                                                         PointwiseSpare* spare) {
  const int32_t depth = a.depth;
  if (spare == nullptr || spare->words == nullptr || depth < kLayerMinDepth ||
      a.pixels < kLayerMinPixels || a.kind[0] != kFusedChannel || a.run_end[0] != a.channels) {
    return false;
  }
  const int32_t blocks = a.pixels / 4, rest = a.pixels % 4, od = a.out_depth;
  const int32_t units = blocks + (rest >= 2 ? 1 : 0);  // blocks widened, the last 2 or 3's too
  // Blocks the grant holds (a last single pixel's 2 x depth bytes kept aside; grants are far
  // below 2 GiB), segments of them; below PointwiseLayerMinSpareBytes the path does not run.
  const int32_t room =
      (static_cast<int32_t>(spare->bytes) - (rest == 1 ? 2 * depth : 0)) / (8 * depth);
  if (room < (units < kLayerMinSegmentBlocks ? units : kLayerMinSegmentBlocks)) return false;
  const int32_t segments = room >= units ? 1 : (units + room - 1) / room;
  WideChannels w;
  w.out_depth = od;
  w.out_depth3 = 3 * od;
  w.filter = buf;
  w.rounds = (depth + 31) / 32;
  w.entry = 44 * ((-depth & 31) / 4);  // the steps the first round skips
  w.filter_bytes = 2 * depth;
  for (int32_t s = 0; s < segments; ++s) {
    const int32_t u0 = s * units / segments, u1 = (s + 1) * units / segments;
    if (!spare->widened) WidenLayerPixels(a, u0, u1, spare->words);
    spare->widened = segments == 1;  // later chunks reuse a whole op's pixels
    // Per call of WideChannelsBlocks (first pixel, blocks): the segment's blocks of four, then
    // the last four pixels again for a last 2 or 3 (its words after theirs).
    const int32_t full = (u1 < blocks ? u1 : blocks) - u0;
    const LayerPass pass[2] = {{a.output + 4 * u0 * od, full * 4 * od, spare->words},
                               {a.output + (a.pixels - 4) * od, (u1 - u0 - full) * 4 * od,
                                spare->words + full * 2 * depth}};
    w.single = rest == 1 && u1 == units;  // (with blocks before it: at least 5 pixels)
    LayerSegmentRuns(a, ch, buf, w, pass);
  }
  return true;
}

#else
inline bool PointwiseLayerRuns(const PointwiseDspArgs&, const PointwiseChannel*, uint32_t*,
                               PointwiseSpare*) {
  return false;
}
#endif
#endif  // MD_KERNELS_ARM_DSP

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_POINTWISE_LAYER_DSP_H_
