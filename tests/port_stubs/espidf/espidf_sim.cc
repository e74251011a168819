#include <cstring>

#include "driver/uart.h"
#include "sim.h"

static bool g_installed = false;
static bool g_configured = false;  // a UART left unconfigured sends nothing (write check fails)

// Accepts only what the port must ask for: a valid IDF 5 source clock, MD_SERIAL_BAUD.
esp_err_t uart_param_config(uart_port_t, const uart_config_t* config) {
  g_configured = config->source_clk == UART_SCLK_DEFAULT && config->baud_rate == 115200;
  return g_configured ? 0 : -1;
}

esp_err_t uart_driver_install(uart_port_t, int, int, int, QueueHandle_t*, int) {
  g_installed = true;
  return 0;
}

int uart_write_bytes(uart_port_t, const void* src, size_t size) {
  if (!g_installed || !g_configured) return -1;
  sim::tx.append(static_cast<const char*>(src), size);
  return static_cast<int>(size);
}

int uart_read_bytes(uart_port_t, void* buf, uint32_t length, TickType_t ticks_to_wait) {
  if (!g_installed) return -1;
  if (sim::rx.empty()) {
    sim::Advance(static_cast<uint64_t>(ticks_to_wait) * 1000u);  // waited the whole timeout
    return 0;
  }
  uint32_t got = 0;
  auto* out = static_cast<uint8_t*>(buf);
  while (got < length && !sim::rx.empty()) {
    out[got++] = sim::rx.front();
    sim::rx.pop_front();
  }
  return static_cast<int>(got);
}

esp_err_t uart_get_buffered_data_len(uart_port_t, size_t* size) {
  *size = sim::rx.size();
  return 0;
}
