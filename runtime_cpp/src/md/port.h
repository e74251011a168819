// The platform port layer: the only functions a board must provide. The
// runtime core never includes a board header; each board's implementation
// lives in ports/<port_name>/port.cc and is vendored by the generator.
#ifndef MD_PORT_H_
#define MD_PORT_H_

#include <cstddef>
#include <cstdint>

namespace md {
namespace port {

// Board set-up (clocks, UART, FPU). Call once before anything else.
void Init();
// Blocking write of n bytes to the board's serial line.
void SerialWrite(const uint8_t* data, size_t n);
// Reads up to n bytes, waiting at most timeout_ms for the first one.
// Returns the number of bytes read (0 on timeout), or -1 if the line closed.
int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms);
// Free-running monotonic tick counter and its rate.
uint64_t Ticks();
uint32_t TicksPerSecond();
// Names the clock source in reports ("systick", "steady_clock", "dwt").
const char* ClockName();
// Debug text (not the protocol channel on boards that have a second one).
void DebugLog(const char* text);
// Ends the program where that means something (native exit, semihosting
// exit under QEMU); spins forever on real boards.
[[noreturn]] void Exit(int code);

}  // namespace port
}  // namespace md

#endif  // MD_PORT_H_
