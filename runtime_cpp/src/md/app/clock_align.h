// Starting a timed region at a fixed point of the board clock, shared by the apps that report
// inference times (the protocol service and the MLPerf Tiny DUT). Under QEMU's -icount the
// measured tick counts then repeat exactly; on real boards it costs at most one tick.
#ifndef MD_APP_CLOCK_ALIGN_H_
#define MD_APP_CLOCK_ALIGN_H_

#include <cstdint>

namespace md {
namespace app {

// Waits for the start of a fresh clock tick; on Cortex-M SysTick, at a fixed instruction offset
// from the tick edge, after waiting out a SysTick wrap due within two `expected_ticks` (the
// previous measurement's length; 0 when unknown).
void AlignToClockEdge(uint64_t expected_ticks);

}  // namespace app
}  // namespace md

#endif  // MD_APP_CLOCK_ALIGN_H_
