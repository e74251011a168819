#include "md/app/clock_align.h"

#include <cstring>

#include "md/port.h"

namespace md {
namespace app {
namespace {

#if defined(__arm__) && (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__))
// SysTick current value register (ARMv7-M System Control Space, on every Cortex-M3/M4/M7).
volatile uint32_t* const kSysTickValue = reinterpret_cast<volatile uint32_t*>(0xE000E018u);

// Starts a measurement at a fixed instruction offset from a SysTick edge. Under QEMU's
// `-icount shift=0` a tick is exactly 40 instructions, and the phase within a tick at which an
// inference starts decides whether its count rounds up or down; that phase otherwise depends on
// when the host's command arrived. A 3-instruction polling loop finds the edge to within 2
// instructions; three reads 38..40 instructions later tell which of the 3, and the branches
// below pad the difference, so every path leaves the same number of instructions after the
// edge. (On real silicon this only costs up to one tick.)
void AlignToSysTickEdge(uint64_t expected_ticks) {
  // The SysTick wrap interrupt inside a measured inference would add its handler's instructions
  // at a random point: when the next wrap is closer than two inferences, wait it out first.
  // Before the first inference its length is unknown: keep half a SysTick period clear.
  if (expected_ticks == 0) expected_ticks = 0x003FF000u;
  if (expected_ticks < 0x00400000u) {
    const uint32_t margin = static_cast<uint32_t>(2 * expected_ticks) + 4096u;
    uint32_t left = *kSysTickValue;
    while (left < margin) {
      // Burn about `left` ticks in plain instructions (a 2-instruction loop, at least 40
      // instructions a tick) rather than polling: under -icount every device read is slow in
      // real time, while plain instructions run at full speed.
      uint32_t spins = left * 20u + 64u;
      __asm volatile("1: subs %[n], %[n], #1\n\tbne 1b" : [n] "+r"(spins) : : "cc");
      left = *kSysTickValue;
    }
  }
  uint32_t first, seen, at38, at39;
  __asm volatile(
      "ldr %[first], [%[cvr]]\n\t"
      "1: ldr %[seen], [%[cvr]]\n\t"  // t: the read that sees the edge (edge at t - d)
      "cmp %[seen], %[first]\n\t"
      "beq 1b\n\t"
      ".rept 35\n\t"
      "nop\n\t"
      ".endr\n\t"
      "ldr %[at38], [%[cvr]]\n\t"  // t + 38: changed again iff d == 2
      "ldr %[at39], [%[cvr]]\n\t"  // t + 39: changed again iff d >= 1
      "cmp %[at39], %[seen]\n\t"
      "beq 3f\n\t"  // d == 0
      "cmp %[at38], %[seen]\n\t"
      "beq 2f\n\t"  // d == 1
      "b 4f\n\t"    // d == 2: 5 instructions from here
      "2: nop\n\t"  // d == 1: 6
      "b 4f\n\t"
      "3: nop\n\t"  // d == 0: 7
      "nop\n\t"
      "nop\n\t"
      "nop\n\t"
      "b 4f\n\t"
      "4:\n\t"
      : [first] "=&r"(first), [seen] "=&r"(seen), [at38] "=&r"(at38), [at39] "=&r"(at39)
      : [cvr] "r"(kSysTickValue)
      : "cc", "memory");
}
#endif

}  // namespace

// Waits for the start of a fresh clock tick so that how far into a tick the previous work ended
// does not round the measured count (see AlignToSysTickEdge for the instruction-exact case).
void AlignToClockEdge(uint64_t expected_ticks) {
#if defined(__arm__) && (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__))
  if (std::strcmp(port::ClockName(), "systick") == 0) {
    AlignToSysTickEdge(expected_ticks);
    return;
  }
#endif
  (void)expected_ticks;
  const uint64_t previous = port::Ticks();
  while (port::Ticks() == previous) {
  }
}

}  // namespace app
}  // namespace md
