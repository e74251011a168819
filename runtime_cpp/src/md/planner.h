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
  uint16_t first;   // first op index that uses it (16 bits: the interpreter runs <= 65535 ops,
  uint16_t last;    // last op index that uses it (inclusive)   and the struct stays 16 bytes)
  uint32_t offset;  // output
  // In-place aliasing: the id of the buffer whose bytes this one reuses (-1: placed on its
  // own). An aliased buffer is not placed; it gets that buffer's offset, and that buffer's
  // [first, last] must already cover this one's (see AliasInPlace in docs/architecture.md).
  int32_t alias = -1;
};

// Which inputs an op's only output may overwrite in place, by builtin code. The kernels named
// here read element i of the aliased input before writing element i of the output and never
// read it again (checked per kernel), so sharing the bytes is bit-exact. `inputs` is a bit mask
// of input positions; `same_dims` requires the aliased input to have the output's exact dims
// (element-wise kernels with broadcasting), otherwise equal byte size is enough (RESHAPE).
// microdeploy/planner.py holds the same table (IN_PLACE_RULES).
struct InPlaceRule {
  uint8_t inputs = 0;  // 0: the op never runs in place
  bool same_dims = true;
};
InPlaceRule InPlaceRuleFor(int32_t builtin_code);

inline uint32_t PlanAlign(uint32_t bytes) {
  return (bytes + (kPlanAlignment - 1)) & ~(kPlanAlignment - 1);
}

// Work bytes PlanBuffers needs for `n` buffers (two index arrays).
inline size_t PlannerWorkBytes(int n) { return 2u * sizeof(int32_t) * static_cast<size_t>(n); }

// Sets buffers[i].offset for every buffer (aliased ones take their alias's offset) and
// *head_bytes to the region size. Deterministic: the same input always gives the same offsets.
// Returns kInvalidArgument when `work` is too small, an alias is not an unaliased buffer id, or
// the head would not fit in 32 bits.
Status PlanBuffers(PlanBuffer* buffers, int n, void* work, size_t work_bytes, uint32_t* head_bytes);

// A run of head bytes [offset, offset + bytes).
struct FreeRun {
  uint32_t offset = 0;
  uint32_t bytes = 0;  // 0: none
};

// Spare scratch (docs/architecture.md): the largest run of bytes in [0, head) that no buffer
// live at `op` (first <= op <= last; aliased ones too, empty ones cover nothing) covers, the
// lowest one on ties. `buffers` must be placed (PlanBuffers). `work` holds n int32s; with less,
// or an empty head, the result is no run. microdeploy/planner.py (largest_free_run) mirrors it.
FreeRun LargestFreeRun(const PlanBuffer* buffers, int n, int op, uint32_t head, void* work,
                       size_t work_bytes);

}  // namespace md

#endif  // MD_PLANNER_H_
