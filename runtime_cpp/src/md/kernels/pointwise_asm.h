// Assembly pieces shared by the Cortex-M DSP paths of 1x1 convolutions (pointwise_dsp.h's
// four-pixel blocks and pointwise_layer_dsp.h's channel-major path). Both use the same fixed
// registers around them: r0-r3 the four accumulators, r4-r6/r8 pixel words, r9/r10 a widened
// filter pair, r11 the filter, r12 the widened pixels; during the requantization r6 the
// multiplier, r8 the addend, r9 the shift, r10 scratch. Kept defined (every other macro of those
// headers is #undef'd after use) because both headers expand them.
#ifndef MD_KERNELS_POINTWISE_ASM_H_
#define MD_KERNELS_POINTWISE_ASM_H_

// One 4-value step of four widened pixels against a widened filter (SXTB16 pairs, widened
// ahead): one LDM loads the step's two filter pairs, 11 instructions for 16 MACs.
// clang-format off
#define MD_PW_WIDE_STEP              \
  "ldmia r11!, {r9, r10}\n\t"        \
  "ldmia r12!, {r4, r5, r6, r8}\n\t" \
  "smlad r0, r9, r4, r0\n\t"         \
  "smlad r0, r10, r5, r0\n\t"        \
  "smlad r1, r9, r6, r1\n\t"         \
  "smlad r1, r10, r8, r1\n\t"        \
  "ldmia r12!, {r4, r5, r6, r8}\n\t" \
  "smlad r2, r9, r4, r2\n\t"         \
  "smlad r2, r10, r5, r2\n\t"        \
  "smlad r3, r9, r6, r3\n\t"         \
  "smlad r3, r10, r8, r3\n\t"

// Accumulator a (doubled) -> int8 with the fused offset: r6 multiplier, r8 addend, r9 shift.
#define MD_PW_REQUANT(a)              \
  "smmlar r10, " a ", r6, r8\n\t"     \
  "add r10, r10, " a ", asr #31\n\t"  \
  "asr r10, r10, r9\n\t"             \
  "ssat " a ", #8, r10\n\t"
// clang-format on

#endif  // MD_KERNELS_POINTWISE_ASM_H_
