// Stand-in for <zephyr/kernel.h>: uptime, sleeping and the hardware cycle counter (32-bit:
// the port's own extension to 64 bits is what the test exercises).
#ifndef MD_PORT_STUBS_ZEPHYR_KERNEL_H_
#define MD_PORT_STUBS_ZEPHYR_KERNEL_H_

#include <cstdint>

#include "sim.h"

typedef struct {
  int64_t ticks;
} k_timeout_t;

#define K_FOREVER (k_timeout_t{-1})
#define K_MSEC(ms) (k_timeout_t{ms})

inline int64_t k_uptime_get() { return static_cast<int64_t>(sim::now_us / 1000u); }
inline int32_t k_msleep(int32_t ms) {
  sim::Advance(static_cast<uint64_t>(ms) * 1000u);
  return 0;
}
inline int32_t k_sleep(k_timeout_t timeout) {
  sim::Advance(timeout.ticks < 0 ? 1000000u : static_cast<uint64_t>(timeout.ticks) * 1000u);
  return 0;
}
inline uint32_t k_cycle_get_32() { return static_cast<uint32_t>(sim::now_us * sim::cycles_per_us); }
inline int sys_clock_hw_cycles_per_sec() { return static_cast<int>(sim::cycles_per_us * 1000000u); }

#endif  // MD_PORT_STUBS_ZEPHYR_KERNEL_H_
