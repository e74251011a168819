// Simulated time and serial line shared by the framework stand-ins (see README.md).
#ifndef MD_PORT_STUBS_SIM_H_
#define MD_PORT_STUBS_SIM_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace sim {

extern uint64_t now_us;         // simulated time since boot
extern std::deque<uint8_t> rx;  // bytes the host sent, not read yet
extern std::string tx;          // bytes the port wrote
extern uint32_t cycles_per_us;  // cycle counters (Zephyr) run this many times faster

inline void Advance(uint64_t us) { now_us += us; }

}  // namespace sim

#endif  // MD_PORT_STUBS_SIM_H_
