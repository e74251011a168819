// Kernels for the runtime's own tests (not the product's kernels): they
// exercise the interpreter's plumbing with arithmetic simple enough to check
// by hand, so these tests do not depend on kernels/*.cc.
#ifndef MD_TESTS_TEST_KERNELS_H_
#define MD_TESTS_TEST_KERNELS_H_

#include "md/kernel.h"
#include "md/op_resolver.h"

namespace md_test {

// Registered as ADD: int8 out[i] = saturate(in0[i] + in1[i]) on raw values.
// Prepare requests two scratch buffers and a persistent block (user data);
// invoke checks them and fails with ctx.Fail() if anything is off.
const md::KernelRegistration& TestAdd();

// Registered as ADD: prepare fails with ctx.Fail(kShapeMismatch, "bad shape %d", 3).
const md::KernelRegistration& FailingAdd();

// Registered as ADD: prepare asks for SIZE_MAX persistent bytes (must get
// nullptr) and returns kArenaTooSmall.
const md::KernelRegistration& GreedyAdd();

// Registered as ADD, for spare scratch (kernel.h RequestSpareScratch): op i's prepare makes the
// spare requests SpareAddConfig().spare[i] (then a regular request of regular[i] bytes when
// that is not 0) and checks the indices are shared (spare k gets k, the regular one the next);
// invoke records what SpareScratch() gives in `granted`/`bytes`, overwrites every granted byte
// with junk before and after the raw saturating add, and fails if Scratch() of the regular
// index is missing or SpareScratch() answers for the regular index.
struct SpareAddConfig {
  static constexpr int kOps = 3;
  static constexpr int kRequests = 2;
  int num_spare[kOps] = {};
  size_t min_bytes[kOps][kRequests] = {};
  size_t max_bytes[kOps][kRequests] = {};
  size_t regular[kOps] = {};
  // Filled by invoke.
  const void* granted[kOps][kRequests] = {};
  size_t bytes[kOps][kRequests] = {};
};
SpareAddConfig& SpareConfig();
const md::KernelRegistration& SpareAdd();

// Accepts every op: prepare reads every tensor view, invoke zeroes the
// outputs. For fuzzed models that pass validation.
class AnyOpResolver : public md::OpResolver {
 public:
  const md::KernelRegistration* Find(int32_t op) const override;
};

}  // namespace md_test

#endif  // MD_TESTS_TEST_KERNELS_H_
