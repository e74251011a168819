// Stand-in for ESP-IDF's esp_timer.h: microseconds since boot, 64 bits.
#ifndef MD_PORT_STUBS_ESP_TIMER_H_
#define MD_PORT_STUBS_ESP_TIMER_H_

#include <cstdint>

#include "sim.h"

inline int64_t esp_timer_get_time() { return static_cast<int64_t>(sim::now_us); }

#endif  // MD_PORT_STUBS_ESP_TIMER_H_
