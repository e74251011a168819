#ifndef MD_PORT_STUBS_FREERTOS_TASK_H_
#define MD_PORT_STUBS_FREERTOS_TASK_H_

#include "freertos/FreeRTOS.h"
#include "sim.h"

inline void vTaskDelay(TickType_t ticks) { sim::Advance(static_cast<uint64_t>(ticks) * 1000u); }

#endif  // MD_PORT_STUBS_FREERTOS_TASK_H_
