// Interpreter plumbing on the ADD model (built by the pytest driver with
// microdeploy's ModelBuilder):
//   x [1,256] int8 input; c [1,256] constant i % 100 + 1; v [1,256] int8 variable,
//   zero point 3
//   op 0: ADD(x, x) -> t1;  op 1: ADD(t1, c) -> out;  op 2: ADD(v, c) -> out2
// with the test kernel (raw saturating add), so expected values are plain sums.
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "md/interpreter.h"
#include "md/profiler.h"
#include "md_test.h"
#include "test_kernels.h"

namespace {

constexpr size_t kBigArena = 1 << 16;
constexpr int kN = 256;

int8_t Sat(int v) { return static_cast<int8_t>(v > 127 ? 127 : (v < -128 ? -128 : v)); }

struct Arena {
  uint8_t* block;
  explicit Arena(size_t n)
      : block(static_cast<uint8_t*>(std::aligned_alloc(16, (n + 31) & ~size_t{15}))) {}
  ~Arena() { std::free(block); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
};

const md::MicroOpResolver<4>& AddResolver() {
  static md::MicroOpResolver<4> r;
  if (r.size() == 0) r.Add(md_test::TestAdd());
  return r;
}

size_t RequiredBytes() {
  Arena arena(kBigArena);
  const md_test::File& f = md_test::Model(0);
  md::Interpreter interp(f.data, f.size, AddResolver(), arena.block, kBigArena);
  if (interp.Init() != md::Status::kOk || interp.AllocateTensors() != md::Status::kOk) return 0;
  return interp.ArenaUsedBytes();
}

}  // namespace

MD_TEST(InterpreterRunsAddModel) {
  const md_test::File& f = md_test::Model(0);
  Arena arena(kBigArena);
  md::FixedProfiler<8> profiler;
  md::Interpreter interp(f.data, f.size, AddResolver(), arena.block, kBigArena, &profiler);
  CHECK(interp.Invoke() == md::Status::kInvalidArgument);  // wrong call order
  CHECK(interp.Init() == md::Status::kOk);
  CHECK(interp.Invoke() == md::Status::kInvalidArgument);
  CHECK(interp.AllocateTensors() == md::Status::kOk);
  CHECK_EQ(interp.NumInputs(), 1);
  CHECK_EQ(interp.NumOutputs(), 2);
  CHECK(interp.Input(1).data == nullptr);
  CHECK(interp.Output(-1).data == nullptr);
  const md::TensorView out2_before = interp.Output(1);
  const md::TensorView in = interp.Input(0);
  CHECK(in.data != nullptr);
  CHECK(in.type == md::DataType::kInt8);
  CHECK_EQ(in.FlatSize(), kN);
  if (in.data == nullptr || in.FlatSize() != kN) return;
  for (int run = 0; run < 2; ++run) {
    // Inputs are planned like any activation, so later ops may reuse their
    // bytes (as in TFLM): set them before every Invoke().
    int8_t* x = in.Data<int8_t>();
    for (int i = 0; i < kN; ++i) x[i] = static_cast<int8_t>((i * 37 + run) % 256 - 128);
    int8_t want[kN];
    for (int i = 0; i < kN; ++i) want[i] = Sat(Sat(2 * x[i]) + (i % 100 + 1));
    profiler.Reset();
    CHECK(interp.Invoke() == md::Status::kOk);
    const int8_t* out = interp.Output(0).Data<int8_t>();
    const int8_t* out2 = interp.Output(1).Data<int8_t>();
    for (int i = 0; i < kN; ++i) {
      CHECK_EQ(out[i], want[i]);
      CHECK_EQ(out2[i], 3 + (i % 100 + 1));  // variable tensor reset to its zero point
    }
    CHECK_EQ(profiler.count(), 3);
    if (profiler.count() == 3) {
      CHECK_EQ(profiler.record(2).op, 2);
      CHECK_STR_CONTAINS(profiler.record(0).name, "ADD");
    }
  }
  CHECK(out2_before.data == interp.Output(1).data);
  // Detached, the profiler records nothing; attached again, every op.
  profiler.Reset();
  interp.set_profiler(nullptr);
  CHECK(interp.Invoke() == md::Status::kOk);
  CHECK_EQ(profiler.count(), 0);
  interp.set_profiler(&profiler);
  CHECK(interp.Invoke() == md::Status::kOk);
  CHECK_EQ(profiler.count(), 3);
  // State put back by ResetVariableTensors(): v is tensor 2, zero point 3.
  const md::TensorView v = interp.Tensor(2);
  CHECK(v.is_variable);
  CHECK(v.data != nullptr);
  if (v.data != nullptr) {
    std::memset(v.data, 99, kN);
    CHECK(interp.ResetVariableTensors() == md::Status::kOk);
    CHECK_EQ(v.Data<int8_t>()[0], 3);
    CHECK_EQ(v.Data<int8_t>()[kN - 1], 3);
  }
  // Head + tail fit the arena and the tail is small: 8 tensors x 2 bytes, 3 op
  // nodes x 16, 6 scratch entries x 8, 3 persistent blocks and 3 user-data nodes.
  CHECK(interp.ArenaHeadBytes() > 0);
  CHECK(interp.ArenaTailBytes() <= 256);
  CHECK(interp.ArenaUsedBytes() >= interp.ArenaHeadBytes() + interp.ArenaTailBytes());
}

MD_TEST(InterpreterArenaTooSmallNamesExactNeed) {
  const md_test::File& f = md_test::Model(0);
  const size_t need = RequiredBytes();
  CHECK(need > 0);
  CHECK_EQ(need % 16, 0);
  {  // exactly enough works
    Arena arena(need);
    md::Interpreter interp(f.data, f.size, AddResolver(), arena.block, need);
    CHECK(interp.Init() == md::Status::kOk);
    CHECK(interp.AllocateTensors() == md::Status::kOk);
    CHECK(interp.Invoke() == md::Status::kOk);
  }
  {  // a misaligned arena start costs its padding
    Arena arena(need + 16);
    md::Interpreter interp(f.data, f.size, AddResolver(), arena.block + 4, need + 12);
    CHECK(interp.Init() == md::Status::kOk);
    CHECK(interp.AllocateTensors() == md::Status::kOk);
    CHECK_EQ(interp.ArenaUsedBytes(), need + 12);
  }
  for (size_t size : {need - 16, need / 2, size_t{64}, size_t{0}}) {
    Arena arena(size);
    md::Interpreter interp(f.data, f.size, AddResolver(), arena.block, size);
    CHECK(interp.Init() == md::Status::kOk);
    CHECK(interp.AllocateTensors() == md::Status::kArenaTooSmall);
    CHECK_STR_CONTAINS(interp.error_message(), "arena too small: need ");
    CHECK(interp.ArenaRequiredBytes() <= need);
    CHECK(interp.ArenaRequiredBytes() > size);
    if (size == need - 16) {
      char want[96];
      std::snprintf(want, sizeof(want), "arena too small: need %zu bytes, have %zu", need, size);
      CHECK_STR_CONTAINS(interp.error_message(), want);
      CHECK(!interp.required_is_lower_bound());
    }
    CHECK(interp.Invoke() == md::Status::kInvalidArgument);
  }
}

MD_TEST(InterpreterPlanArenaMatchesAllocation) {
  const md_test::File& f = md_test::Model(0);
  Arena work(kBigArena);
  md::ArenaFigures figures;
  char error[256];
  CHECK(md::Interpreter::PlanArena(f.data, f.size, AddResolver(), work.block, kBigArena, &figures,
                                   error, sizeof(error)) == md::Status::kOk);
  CHECK_EQ(figures.total, RequiredBytes());
}

MD_TEST(InterpreterRecordsPlan) {
  const md_test::File& f = md_test::Model(0);
  Arena arena(kBigArena);
  md::Interpreter interp(f.data, f.size, AddResolver(), arena.block, kBigArena);
  md::PlanRecord records[32];
  int count = 0;
  interp.RecordPlan(records, 32, &count);
  CHECK(interp.Init() == md::Status::kOk);
  CHECK(interp.AllocateTensors() == md::Status::kOk);
  // x, v, t1, out, out2 (c is constant) + 2 scratch per op.
  CHECK_EQ(count, 5 + 6);
  int scratch = 0;
  for (int i = 0; i < count && i < 32; ++i) {
    CHECK(records[i].offset + records[i].size <= interp.ArenaHeadBytes());
    if (records[i].tensor < 0) {
      ++scratch;
      CHECK_EQ(records[i].first, records[i].op);
      CHECK_EQ(records[i].last, records[i].op);
    }
  }
  CHECK_EQ(scratch, 6);
}

MD_TEST(InterpreterNamesUnsupportedOpAndKernelFailures) {
  const md_test::File& f = md_test::Model(0);
  Arena arena(kBigArena);
  {
    md::MicroOpResolver<1> empty;
    md::Interpreter interp(f.data, f.size, empty, arena.block, kBigArena);
    CHECK(interp.Init() == md::Status::kUnsupportedOp);
    CHECK_STR_CONTAINS(interp.error_message(), "op 0 (ADD) is not supported by this build");
    CHECK(interp.AllocateTensors() == md::Status::kInvalidArgument);
  }
  {
    md::MicroOpResolver<1> failing;
    failing.Add(md_test::FailingAdd());
    md::Interpreter interp(f.data, f.size, failing, arena.block, kBigArena);
    CHECK(interp.Init() == md::Status::kOk);
    CHECK(interp.AllocateTensors() == md::Status::kShapeMismatch);
    CHECK_STR_CONTAINS(interp.error_message(), "op 0 ADD: bad shape 3");
  }
  {
    md::MicroOpResolver<1> greedy;
    greedy.Add(md_test::GreedyAdd());
    md::Interpreter interp(f.data, f.size, greedy, arena.block, kBigArena);
    CHECK(interp.Init() == md::Status::kOk);
    CHECK(interp.AllocateTensors() == md::Status::kArenaTooSmall);
    CHECK_STR_CONTAINS(interp.error_message(), "arena too small: need at least ");
    CHECK(interp.required_is_lower_bound());
    CHECK(interp.ArenaRequiredBytes() > kBigArena);
  }
  {
    alignas(16) uint8_t junk[64] = {};
    md::Interpreter interp(junk, sizeof(junk), AddResolver(), arena.block, kBigArena);
    CHECK(interp.Init() == md::Status::kMalformedModel);
    CHECK_STR_CONTAINS(interp.error_message(), "malformed model: ");
  }
}
