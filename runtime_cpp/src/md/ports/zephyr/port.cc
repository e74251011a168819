// Port of the runtime to Zephyr: the serial line is the board's console UART
// (devicetree `zephyr,console`) used by polling, the clock is the kernel's hardware cycle counter
// (k_cycle_get_64 where the timer driver has one, else k_cycle_get_32 extended here).
//
// prj.conf must leave the console UART to us: CONFIG_SERIAL=y, CONFIG_UART_CONSOLE=n and
// CONFIG_PRINTK=n (printk would interleave with protocol records); `microdeploy init` writes
// that prj.conf. Exit sleeps forever (the application has nothing to return to).
#include "md/port.h"

#include <zephyr/device.h>
#include <zephyr/devicetree.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>

namespace {

const struct device* const g_uart = DEVICE_DT_GET(DT_CHOSEN(zephyr_console));

}  // namespace

namespace md {
namespace port {

void Init() {
  // An unready console cannot be reported anywhere; the host then sees no boot record.
  (void)device_is_ready(g_uart);
}

void SerialWrite(const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) uart_poll_out(g_uart, data[i]);
}

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  const int64_t deadline = k_uptime_get() + static_cast<int64_t>(timeout_ms);
  unsigned char c = 0;
  while (uart_poll_in(g_uart, &c) != 0) {
    if (k_uptime_get() >= deadline) return 0;
    k_msleep(1);  // let other threads (and the idle thread's power saving) run
  }
  size_t got = 0;
  data[got++] = c;
  while (got < n && uart_poll_in(g_uart, &c) == 0) data[got++] = c;
  return static_cast<int>(got);
}

uint64_t Ticks() {
#if defined(CONFIG_TIMER_HAS_64BIT_CYCLE_COUNTER)
  return k_cycle_get_64();
#else
  // Extends the 32-bit counter; assumes a call at least once per wrap (the service polls).
  static uint32_t last = 0;
  static uint64_t high = 0;
  const uint32_t now = k_cycle_get_32();
  if (now < last) high += uint64_t{1} << 32;
  last = now;
  return high | now;
#endif
}

uint32_t TicksPerSecond() { return static_cast<uint32_t>(sys_clock_hw_cycles_per_sec()); }

const char* ClockName() { return "k_cycle"; }

void DebugLog(const char* text) { (void)text; }

[[noreturn]] void Exit(int code) {
  (void)code;
  for (;;) {
    k_sleep(K_FOREVER);
  }
}

}  // namespace port
}  // namespace md
