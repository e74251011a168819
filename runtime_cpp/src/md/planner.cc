// Greedy-by-size placement, see planner.h and docs/architecture.md.
#include "md/planner.h"

#include "md/types.h"

namespace md {

namespace {

// Placement order: size descending, then first use ascending, then id.
bool PlacedBefore(const PlanBuffer* b, int32_t x, int32_t y) {
  if (b[x].size != b[y].size) return b[x].size > b[y].size;
  if (b[x].first != b[y].first) return b[x].first < b[y].first;
  return x < y;
}

bool LifetimesIntersect(const PlanBuffer& a, const PlanBuffer& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

InPlaceRule InPlaceRuleFor(int32_t builtin_code) {
  switch (builtin_code) {
    case kOpReshape:
      return InPlaceRule{0x1, false};
    case kOpAdd:
    case kOpMul:
      return InPlaceRule{0x3, true};
    case kOpLogistic:
    case kOpTanh:
    case kOpQuantize:  // the planner also requires the same type (requantize int8->int8, ...)
      return InPlaceRule{0x1, true};
    default:
      return InPlaceRule{};
  }
}

MD_INIT_CODE Status PlanBuffers(PlanBuffer* buffers, int n, void* work, size_t work_bytes,
                                uint32_t* head_bytes) {
  *head_bytes = 0;
  if (n < 0 || (n > 0 && (work == nullptr || work_bytes < PlannerWorkBytes(n)))) {
    return Status::kInvalidArgument;
  }
  int32_t* order = static_cast<int32_t*>(work);
  int32_t* by_offset = order + n;  // placed buffers sorted by offset

  // Insertion sort: stable, no recursion, n is a few hundred at most.
  // Aliased buffers are not placed.
  int32_t to_place = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (buffers[i].alias >= 0) {
      if (buffers[i].alias >= n || buffers[buffers[i].alias].alias >= 0) {
        return Status::kInvalidArgument;
      }
      continue;
    }
    int32_t j = to_place++;
    while (j > 0 && PlacedBefore(buffers, i, order[j - 1])) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = i;
  }

  uint64_t head = 0;
  int32_t placed = 0;
  for (int32_t k = 0; k < to_place; ++k) {
    PlanBuffer& b = buffers[order[k]];
    // First gap among conflicting buffers (scanned by offset) that fits.
    uint64_t candidate = 0;
    for (int32_t p = 0; p < placed; ++p) {
      const PlanBuffer& other = buffers[by_offset[p]];
      if (!LifetimesIntersect(b, other)) continue;
      if (candidate + b.size <= other.offset) break;
      const uint64_t end = static_cast<uint64_t>(other.offset) + other.size;
      if (end > candidate) candidate = end;
    }
    if (candidate + b.size > 0xffffffffu) return Status::kInvalidArgument;
    b.offset = static_cast<uint32_t>(candidate);
    if (candidate + b.size > head) head = candidate + b.size;
    // Keep by_offset sorted (ties: later placements after earlier ones).
    int32_t j = placed;
    while (j > 0 && buffers[by_offset[j - 1]].offset > b.offset) {
      by_offset[j] = by_offset[j - 1];
      --j;
    }
    by_offset[j] = order[k];
    ++placed;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (buffers[i].alias >= 0) buffers[i].offset = buffers[buffers[i].alias].offset;
  }
  *head_bytes = static_cast<uint32_t>(head);
  return Status::kOk;
}

MD_INIT_CODE FreeRun LargestFreeRun(const PlanBuffer* buffers, int n, int op, uint32_t head,
                                    void* work, size_t work_bytes) {
  FreeRun best;
  if (n < 0 || (n > 0 && (work == nullptr || work_bytes < sizeof(int32_t) * n))) return best;
  // The live buffers by offset (insertion sort: a few dozen are live at one op).
  int32_t* live = static_cast<int32_t*>(work);
  int32_t count = 0;
  for (int32_t i = 0; i < n; ++i) {
    const PlanBuffer& b = buffers[i];
    if (b.size == 0 || b.first > op || b.last < op) continue;
    int32_t j = count++;
    while (j > 0 && buffers[live[j - 1]].offset > b.offset) {
      live[j] = live[j - 1];
      --j;
    }
    live[j] = i;
  }
  // Sweep: `covered` is the end of the bytes covered so far; a run is what lies between it and
  // the next buffer, or the head.
  uint64_t covered = 0;
  for (int32_t k = 0; k <= count; ++k) {
    const uint64_t start = k < count ? buffers[live[k]].offset : head;
    if (start > covered && start - covered > best.bytes) {
      best.offset = static_cast<uint32_t>(covered);
      best.bytes = static_cast<uint32_t>(start - covered);
    }
    if (k < count) {
      const uint64_t end = static_cast<uint64_t>(buffers[live[k]].offset) + buffers[live[k]].size;
      if (end > covered) covered = end;
    }
  }
  return best;
}

}  // namespace md
