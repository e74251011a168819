// Port of the runtime to ESP-IDF (ESP32, ESP32-S3): the serial line is UART0 through the IDF's
// UART driver (the DevKitC's USB-UART bridge), the clock is esp_timer (64-bit microseconds since
// boot), and the IDF's app_main() runs the application's main().
//
// - The console (ESP_LOG) also writes to UART0 by default; DebugLog stays silent so nothing but
//   protocol records reaches the host. Turn the IDF's logging down in sdkconfig for a clean line.
// - Exit blocks the task forever: the chip has nothing to return to.
// MD_SERIAL_BAUD comes from the board definition's serial_baud (platformio.ini build_flags).
#include "md/port.h"

#include "driver/uart.h"
#include "esp_idf_version.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#ifndef MD_SERIAL_BAUD
#define MD_SERIAL_BAUD 115200
#endif

int main();  // the application's (src/main.cpp)

// ESP-IDF starts app_main() in the main task instead of main().
extern "C" void app_main() { main(); }

namespace {

constexpr uart_port_t kUart = UART_NUM_0;
constexpr int kRxBufferBytes = 4096;  // one input chunk plus headroom (docs/protocol.md)

}  // namespace

namespace md {
namespace port {

void Init() {
  uart_config_t config = {};
  config.baud_rate = MD_SERIAL_BAUD;
  config.data_bits = UART_DATA_8_BITS;
  config.parity = UART_PARITY_DISABLE;
  config.stop_bits = UART_STOP_BITS_1;
  config.flow_ctrl = UART_HW_FLOWCTRL_DISABLE;
#if ESP_IDF_VERSION_MAJOR >= 5
  config.source_clk = UART_SCLK_DEFAULT;  // IDF 5: a zeroed source clock is not a valid one
#endif
  uart_param_config(kUart, &config);
  // No TX buffer: uart_write_bytes blocks until the bytes are in the hardware FIFO.
  uart_driver_install(kUart, kRxBufferBytes, 0, 0, nullptr, 0);
}

void SerialWrite(const uint8_t* data, size_t n) {
  uart_write_bytes(kUart, reinterpret_cast<const char*>(data), n);
}

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  // The first byte may wait; whatever else is already buffered is taken without waiting.
  const int first = uart_read_bytes(kUart, data, 1, pdMS_TO_TICKS(timeout_ms));
  if (first <= 0) return 0;
  size_t buffered = 0;
  uart_get_buffered_data_len(kUart, &buffered);
  if (buffered > n - 1) buffered = n - 1;
  const int rest = buffered > 0 ? uart_read_bytes(kUart, data + 1, buffered, 0) : 0;
  return 1 + (rest > 0 ? rest : 0);
}

uint64_t Ticks() { return static_cast<uint64_t>(esp_timer_get_time()); }

uint32_t TicksPerSecond() { return 1000000u; }

const char* ClockName() { return "esp_timer"; }

void DebugLog(const char* text) { (void)text; }

[[noreturn]] void Exit(int code) {
  (void)code;
  for (;;) {
    vTaskDelay(portMAX_DELAY);
  }
}

}  // namespace port
}  // namespace md
