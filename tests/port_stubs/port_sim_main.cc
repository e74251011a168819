// Runs one framework port against the simulated SDK (sim.h): prints `PASS <case>` or
// `FAIL <case>: ...` per check and exits 1 if any failed. Usage: port_sim CLOCK_NAME TICKS_PER_S
#include <cstdlib>
#include <cstring>
#include <string>

#include "check.h"
#include "md/port.h"
#include "sim.h"

using sim_check::Check;

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const uint64_t ticks_per_second = std::strtoull(argv[2], nullptr, 10);
  // A cycle counter (Zephyr) counts this many times per microsecond; micros()/esp_timer once.
  sim::cycles_per_us = static_cast<uint32_t>(ticks_per_second / 1000000u);
  md::port::Init();

  Check(std::strcmp(md::port::ClockName(), argv[1]) == 0, "clock_name", md::port::ClockName());
  Check(md::port::TicksPerSecond() == ticks_per_second, "ticks_per_second",
        std::to_string(md::port::TicksPerSecond()));

  uint8_t buffer[8] = {};
  const uint64_t before = sim::now_us;
  const int none = md::port::SerialRead(buffer, sizeof(buffer), 50);
  const uint64_t waited_us = sim::now_us - before;
  Check(none == 0, "timeout_returns_0", std::to_string(none));
  Check(waited_us >= 50000 && waited_us <= 60000, "timeout_waits_50ms", std::to_string(waited_us));

  for (char c : std::string("hello")) sim::rx.push_back(static_cast<uint8_t>(c));
  const int first = md::port::SerialRead(buffer, 3, 1000);
  Check(first == 3 && std::memcmp(buffer, "hel", 3) == 0, "read_up_to_n", std::to_string(first));
  const int rest = md::port::SerialRead(buffer, sizeof(buffer), 1000);
  Check(rest == 2 && std::memcmp(buffer, "lo", 2) == 0, "read_what_is_there", std::to_string(rest));

  md::port::SerialWrite(reinterpret_cast<const uint8_t*>("abc\n"), 4);
  Check(sim::tx == "abc\n", "write", sim::tx);

  // Across the 32-bit wrap of the underlying counter (micros(), a cycle counter): no going back,
  // and the elapsed ticks are the elapsed time.
  const uint64_t wrap_us = (uint64_t{1} << 32) / sim::cycles_per_us;
  sim::now_us = wrap_us - 10;
  const uint64_t t0 = md::port::Ticks();
  sim::Advance(20);
  const uint64_t t1 = md::port::Ticks();
  sim::Advance(30);
  const uint64_t t2 = md::port::Ticks();
  const uint64_t per_us = ticks_per_second / 1000000u;
  Check(t1 > t0 && t1 - t0 == 20 * per_us, "ticks_across_wrap", std::to_string(t1 - t0));
  Check(t2 - t1 == 30 * per_us, "ticks_after_wrap", std::to_string(t2 - t1));
  Check(t2 >= (uint64_t{1} << 32), "ticks_are_64_bit", std::to_string(t2));

  return sim_check::ExitStatus();
}
