// Port of the runtime to the host computer (board "native"): the serial line is
// stdin/stdout, debug text goes to stderr, time is std::chrono::steady_clock in
// microseconds, Exit() ends the process.
#include "md/port.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace md {
namespace port {

void Init() {
  // Unbuffered stdout: a host reading the "serial line" through a pipe sees
  // every line as soon as the program writes it.
  std::setvbuf(stdout, nullptr, _IONBF, 0);
}

void SerialWrite(const uint8_t* data, size_t n) {
  while (n > 0) {
    ssize_t written = write(STDOUT_FILENO, data, n);
    if (written <= 0) return;  // stdout closed: nothing left to tell anyone
    data += written;
    n -= static_cast<size_t>(written);
  }
}

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  pollfd fd = {STDIN_FILENO, POLLIN, 0};
  int ready = poll(&fd, 1, static_cast<int>(timeout_ms));
  if (ready == 0) return 0;
  if (ready < 0) return -1;
  ssize_t got = read(STDIN_FILENO, data, n);
  if (got <= 0) return -1;  // EOF: the host closed the line
  return static_cast<int>(got);
}

uint64_t Ticks() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

uint32_t TicksPerSecond() { return 1000000u; }

const char* ClockName() { return "steady_clock"; }

void DebugLog(const char* text) { std::fputs(text, stderr); }

[[noreturn]] void Exit(int code) {
  std::fflush(stdout);
  std::exit(code);
}

}  // namespace port
}  // namespace md
