#include "md/profiler.h"

#include "md/port.h"

namespace md {

void Profiler::BeginOp(int32_t op, const char* name) {
  op_ = op;
  name_ = name;
  start_ = port::Ticks();
}

void Profiler::EndOp() { AddRecord(op_, name_, port::Ticks() - start_); }

void Profiler::AddRecord(int32_t op, const char* name, uint64_t ticks) {
  if (count_ < capacity_) {
    records_[count_++] = ProfileRecord{op, name, ticks};
  } else {
    ++dropped_;
  }
}

uint64_t Profiler::TotalTicks() const {
  uint64_t total = 0;
  for (int i = 0; i < count_; ++i) total += records_[i].ticks;
  return total;
}

}  // namespace md
