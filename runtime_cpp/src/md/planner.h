// The arena planner: places buffers with known lifetimes in one region so
// that buffers alive at the same time never overlap. The algorithm is the one
// in docs/architecture.md ("arena planning algorithm"); microdeploy/planner.py
// implements it identically and tests compare the two.
//
// No heap: the caller provides the buffer array and a work area of
// PlannerWorkBytes(n) bytes (the interpreter uses the unplanned arena head).
#ifndef MD_PLANNER_H_
#define MD_PLANNER_H_

#include <cstddef>
#include <cstdint>

#include "md/status.h"

namespace md {

constexpr uint32_t kPlanAlignment = 16;

// One buffer to place. The buffer id is its index in the array passed to
// PlanBuffers (tensors first in tensor order, then scratch in request order).
struct PlanBuffer {
  uint32_t size;    // bytes, already rounded up to kPlanAlignment
  int32_t first;    // first op index that uses it
  int32_t last;     // last op index that uses it (inclusive)
  uint32_t offset;  // output
};

inline uint32_t PlanAlign(uint32_t bytes) {
  return (bytes + (kPlanAlignment - 1)) & ~(kPlanAlignment - 1);
}

// Work bytes PlanBuffers needs for `n` buffers (two index arrays).
inline size_t PlannerWorkBytes(int n) { return 2u * sizeof(int32_t) * static_cast<size_t>(n); }

// Sets buffers[i].offset for every buffer and *head_bytes to the region
// size. Deterministic: the same input always gives the same offsets.
// Returns kInvalidArgument when `work` is too small or the head would not fit
// in 32 bits.
Status PlanBuffers(PlanBuffer* buffers, int n, void* work, size_t work_bytes, uint32_t* head_bytes);

}  // namespace md

#endif  // MD_PLANNER_H_
