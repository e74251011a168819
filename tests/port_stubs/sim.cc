#include "sim.h"

namespace sim {
uint64_t now_us = 0;
std::deque<uint8_t> rx;
std::string tx;
uint32_t cycles_per_us = 1;
}  // namespace sim
