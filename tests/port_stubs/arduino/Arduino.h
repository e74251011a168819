// Stand-in for the Arduino core API the arduino port uses (Serial, millis, micros, delay,
// yield), over the simulated clock and line of sim.h.
#ifndef MD_PORT_STUBS_ARDUINO_H_
#define MD_PORT_STUBS_ARDUINO_H_

#include <cstddef>
#include <cstdint>

#include "sim.h"

class HardwareSerial {
 public:
  void begin(unsigned long baud) { baud_ = baud; }
  explicit operator bool() const { return true; }
  int available() { return static_cast<int>(sim::rx.size()); }
  int read() {
    if (sim::rx.empty()) return -1;
    const uint8_t c = sim::rx.front();
    sim::rx.pop_front();
    return c;
  }
  size_t write(const uint8_t* data, size_t n) {
    sim::tx.append(reinterpret_cast<const char*>(data), n);
    return n;
  }
  void flush() {}
  unsigned long baud() const { return baud_; }

 private:
  unsigned long baud_ = 0;
};

extern HardwareSerial Serial;

inline unsigned long millis() { return static_cast<unsigned long>(sim::now_us / 1000u); }
inline unsigned long micros() { return static_cast<uint32_t>(sim::now_us); }  // wraps at 2^32
inline void delay(unsigned long ms) { sim::Advance(ms * 1000u); }
inline void yield() { sim::Advance(100); }

#endif  // MD_PORT_STUBS_ARDUINO_H_
