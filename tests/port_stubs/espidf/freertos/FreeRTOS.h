// Stand-in for FreeRTOS.h as ESP-IDF configures it (1 tick = 1 ms).
#ifndef MD_PORT_STUBS_FREERTOS_H_
#define MD_PORT_STUBS_FREERTOS_H_

#include <cstdint>

typedef uint32_t TickType_t;
#define portMAX_DELAY static_cast<TickType_t>(0xFFFFFFFFu)
#define pdMS_TO_TICKS(ms) static_cast<TickType_t>(ms)

#endif  // MD_PORT_STUBS_FREERTOS_H_
