// Port of the runtime to the Arduino framework (Arduino mbed core on the Nano 33 BLE Sense,
// arduino-pico on the RP2040, arduino-esp32, STM32duino, SparkFun Apollo3): the serial line is
// `Serial` (USB CDC or the board's USB-UART bridge), the clock is micros().
//
// - micros() is 32 bits and wraps every 71.6 minutes: Ticks() extends it to 64 bits, which
//   assumes Ticks() runs at least once per wrap (the protocol service polls far more often).
// - DebugLog goes nowhere: the boards have one serial line and the protocol owns it.
// - Exit spins: a real board has nothing to return to.
// MD_SERIAL_BAUD comes from the board definition's serial_baud (platformio.ini build_flags).
#include "md/port.h"

#include <Arduino.h>

#ifndef MD_SERIAL_BAUD
#define MD_SERIAL_BAUD 115200
#endif

namespace md {
namespace port {

void Init() {
  Serial.begin(MD_SERIAL_BAUD);
  // Native-USB boards: wait (at most 3 s) for the host to open the port, so the boot record is
  // not sent into the void; boards with a USB-UART bridge are ready at once.
  const uint32_t start = millis();
  while (!Serial && millis() - start < 3000u) {
  }
}

void SerialWrite(const uint8_t* data, size_t n) {
  while (n > 0) {
    const size_t written = Serial.write(data, n);
    if (written == 0) continue;  // TX buffer full: wait for it to drain
    data += written;
    n -= written;
  }
  Serial.flush();
}

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  const uint32_t start = millis();
  while (Serial.available() <= 0) {
    if (millis() - start >= timeout_ms) return 0;  // unsigned difference: wrap-safe
    yield();
  }
  size_t got = 0;
  while (got < n && Serial.available() > 0) {
    const int c = Serial.read();
    if (c < 0) break;
    data[got++] = static_cast<uint8_t>(c);
  }
  return static_cast<int>(got);
}

uint64_t Ticks() {
  static uint32_t last = 0;
  static uint64_t high = 0;  // wraps seen, in units of 2^32 us
  const uint32_t now = micros();
  if (now < last) high += uint64_t{1} << 32;
  last = now;
  return high | now;
}

uint32_t TicksPerSecond() { return 1000000u; }

const char* ClockName() { return "micros"; }

void DebugLog(const char* text) { (void)text; }

[[noreturn]] void Exit(int code) {
  (void)code;
  for (;;) {
    delay(1000);
  }
}

}  // namespace port
}  // namespace md
