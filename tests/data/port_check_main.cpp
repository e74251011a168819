// Exercises a runtime port through md/port.h only (tests/test_ports.py drives it):
// a read that must time out, an echo of whatever the host sends, a monotonic-clock check,
// then Exit(5).
#include <cstdio>
#include <cstring>

#include "md/port.h"

namespace {

void Print(const char* text) {
  md::port::SerialWrite(reinterpret_cast<const uint8_t*>(text), strlen(text));
}

}  // namespace

int main() {
  md::port::Init();
  char line[128];
  snprintf(line, sizeof(line), "clock=%s hz=%lu\n", md::port::ClockName(),
           static_cast<unsigned long>(md::port::TicksPerSecond()));
  Print(line);
  Print("ready\n");
  uint8_t buf[32];
  // The host sends nothing until it has seen the timeout line.
  const uint64_t t0 = md::port::Ticks();
  const int n = md::port::SerialRead(buf, sizeof(buf), 100);
  const uint64_t t1 = md::port::Ticks();
  const unsigned long waited_ms =
      static_cast<unsigned long>((t1 - t0) * 1000u / md::port::TicksPerSecond());
  snprintf(line, sizeof(line), "timeout n=%d ms=%lu\n", n, waited_ms);
  Print(line);
  // Echo until the host has sent "end." (or the line closes / stays silent for 10 s).
  char echoed[64] = {0};
  size_t total = 0;
  while (total < sizeof(echoed) - 1 && strstr(echoed, "end.") == nullptr) {
    const int got = md::port::SerialRead(buf, sizeof(buf), 10000);
    if (got <= 0) break;
    for (int i = 0; i < got && total < sizeof(echoed) - 1; ++i) echoed[total++] = buf[i];
  }
  snprintf(line, sizeof(line), "echo=%s\n", echoed);
  Print(line);
  uint64_t previous = md::port::Ticks();
  int backwards = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t now = md::port::Ticks();
    if (now < previous) ++backwards;
    previous = now;
  }
  snprintf(line, sizeof(line), "backwards=%d\n", backwards);
  Print(line);
  md::port::DebugLog("debug line\n");
  md::port::Exit(5);
}
