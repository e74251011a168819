// Per-op timing. The interpreter calls BeginOp/EndOp around each kernel's
// invoke only when a profiler is attached (one pointer test per op when not;
// Interpreter::set_profiler attaches and detaches it between invokes),
// reading the port's clock (md::port::Ticks). Records go into a fixed array
// owned by the caller; ops past the capacity are counted but not recorded.
#ifndef MD_PROFILER_H_
#define MD_PROFILER_H_

#include <cstddef>
#include <cstdint>

namespace md {

struct ProfileRecord {
  int32_t op;        // op index in the subgraph
  const char* name;  // builtin op name ("CONV_2D")
  uint64_t ticks;    // md::port::Ticks() elapsed during invoke
};

class Profiler {
 public:
  Profiler(ProfileRecord* records, int capacity) : records_(records), capacity_(capacity) {}

  void BeginOp(int32_t op, const char* name);
  void EndOp();
  // A record measured by the caller (ops of a patch-based stage run interleaved,
  // so the interpreter sums each op's ticks itself).
  void AddRecord(int32_t op, const char* name, uint64_t ticks);
  // Forget the records (call before each Invoke to keep only the last one).
  void Reset() {
    count_ = 0;
    dropped_ = 0;
  }

  int count() const { return count_; }
  int dropped() const { return dropped_; }
  const ProfileRecord& record(int i) const { return records_[i]; }
  uint64_t TotalTicks() const;

 private:
  ProfileRecord* records_;
  int capacity_;
  int count_ = 0;
  int dropped_ = 0;
  int32_t op_ = -1;
  const char* name_ = nullptr;
  uint64_t start_ = 0;
};

// A profiler with its own storage for up to N ops.
template <int N>
class FixedProfiler : public Profiler {
 public:
  FixedProfiler() : Profiler(storage_, N) {}

 private:
  ProfileRecord storage_[N] = {};
};

}  // namespace md

#endif  // MD_PROFILER_H_
