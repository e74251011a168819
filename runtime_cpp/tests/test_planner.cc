// Planner: the docs/architecture.md algorithm, checked three ways: a small
// case worked out by hand from the rules, properties on random graphs
// (aligned, overlap-free, head = max end, deterministic), and the "lowest
// feasible offset" rule re-checked by brute force against buffers placed
// earlier in the documented order.
#include <cstdint>
#include <cstdlib>

#include "md/planner.h"
#include "md_test.h"

namespace {

bool Intersect(const md::PlanBuffer& a, const md::PlanBuffer& b) {
  return a.first <= b.last && b.first <= a.last;
}

bool Overlap(const md::PlanBuffer& a, const md::PlanBuffer& b) {
  return a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

bool PlacedEarlier(const md::PlanBuffer* b, int x, int y) {
  if (b[x].size != b[y].size) return b[x].size > b[y].size;
  if (b[x].first != b[y].first) return b[x].first < b[y].first;
  return x < y;
}

}  // namespace

MD_TEST(PlannerHandWorkedExample) {
  // A 32 [0,1], B 16 [1,2], C 32 [2,3], D 16 [0,0]. Order: A, C (same size,
  // later first use), B, D. A@0; C@0 (no lifetime overlap with A); B meets A
  // and C -> 32; D meets A only -> 32 (B's lifetime does not meet D's).
  md::PlanBuffer b[4] = {{32, 0, 1, 0}, {16, 1, 2, 0}, {32, 2, 3, 0}, {16, 0, 0, 0}};
  int32_t work[8];
  uint32_t head = 0;
  CHECK(md::PlanBuffers(b, 4, work, sizeof(work), &head) == md::Status::kOk);
  CHECK_EQ(b[0].offset, 0);
  CHECK_EQ(b[2].offset, 0);
  CHECK_EQ(b[1].offset, 32);
  CHECK_EQ(b[3].offset, 32);
  CHECK_EQ(head, 48);
}

MD_TEST(PlannerRejectsSmallWorkArea) {
  md::PlanBuffer b[2] = {{16, 0, 0, 0}, {16, 0, 0, 0}};
  int32_t work[3];
  uint32_t head = 7;
  CHECK(md::PlanBuffers(b, 2, work, sizeof(work), &head) == md::Status::kInvalidArgument);
  CHECK(md::PlanBuffers(b, 0, nullptr, 0, &head) == md::Status::kOk);
  CHECK_EQ(head, 0);
}

MD_TEST(PlannerAliasesShareTheirGroupsBytes) {
  // A [0,1] is written in place by B (op 1, alias of A, A's lifetime already grown to B's);
  // C [1,2] must go elsewhere: it meets A's group. B is not placed and takes A's offset.
  md::PlanBuffer b[3] = {{64, 0, 2, 0}, {64, 1, 2, 0, 0}, {32, 1, 2, 0}};
  int32_t work[6];
  uint32_t head = 0;
  CHECK(md::PlanBuffers(b, 3, work, sizeof(work), &head) == md::Status::kOk);
  CHECK_EQ(b[0].offset, 0);
  CHECK_EQ(b[1].offset, 0);
  CHECK_EQ(b[2].offset, 64);
  CHECK_EQ(head, 96);
  // An alias must name an unaliased buffer in the array.
  md::PlanBuffer bad[2] = {{16, 0, 0, 0, 1}, {16, 0, 0, 0, 0}};
  CHECK(md::PlanBuffers(bad, 2, work, sizeof(work), &head) == md::Status::kInvalidArgument);
  md::PlanBuffer out_of_range[1] = {{16, 0, 0, 0, 5}};
  CHECK(md::PlanBuffers(out_of_range, 1, work, sizeof(work), &head) ==
        md::Status::kInvalidArgument);
}

MD_TEST(PlannerRandomGraphs) {
  md_test::Random rng(7);
  constexpr int kMax = 200;
  static md::PlanBuffer b[kMax], again[kMax];
  static int32_t work[2 * kMax];
  for (int graph = 0; graph < 300; ++graph) {
    const int n = 1 + static_cast<int>(rng.Below(kMax));
    const int ops = 1 + static_cast<int>(rng.Below(60));
    for (int i = 0; i < n; ++i) {
      const uint16_t first = static_cast<uint16_t>(rng.Below(static_cast<uint32_t>(ops)));
      const uint16_t len = static_cast<uint16_t>(rng.Below(graph % 3 == 0 ? 3 : 20));
      const uint32_t raw = rng.Below(graph % 2 ? 64 : 5000);
      b[i] = md::PlanBuffer{md::PlanAlign(raw), first, static_cast<uint16_t>(first + len), 0xdeadu};
      again[i] = b[i];
    }
    uint32_t head = 0, head2 = 0;
    CHECK(md::PlanBuffers(b, n, work, sizeof(work), &head) == md::Status::kOk);
    CHECK(md::PlanBuffers(again, n, work, sizeof(work), &head2) == md::Status::kOk);
    CHECK_EQ(head, head2);
    uint32_t max_end = 0;
    for (int i = 0; i < n; ++i) {
      CHECK_EQ(b[i].offset, again[i].offset);
      CHECK_EQ(b[i].offset % md::kPlanAlignment, 0);
      if (b[i].offset + b[i].size > max_end) max_end = b[i].offset + b[i].size;
      for (int j = i + 1; j < n; ++j) {
        if (b[i].size && b[j].size && Intersect(b[i], b[j])) CHECK(!Overlap(b[i], b[j]));
      }
      // No lower offset was free among the conflicting buffers placed before
      // it. The lowest free offset is always 0 or the end of such a buffer,
      // so those are the candidates to try.
      for (int c = -1; c < n; ++c) {
        md::PlanBuffer probe = b[i];
        probe.offset = c < 0 ? 0 : b[c].offset + b[c].size;
        if (c >= 0 && !(PlacedEarlier(b, c, i) && Intersect(b[c], b[i]))) continue;
        if (probe.offset >= b[i].offset) continue;
        bool blocked = false;
        for (int j = 0; j < n && !blocked; ++j) {
          blocked =
              j != i && PlacedEarlier(b, j, i) && Intersect(b[j], probe) && Overlap(b[j], probe);
        }
        if (!blocked) {
          md_test::RecordFailure(__FILE__, __LINE__, "a lower offset was free");
          break;
        }
      }
    }
    CHECK_EQ(head, max_end);
  }
}
