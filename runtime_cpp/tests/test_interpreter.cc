// Interpreter plumbing on the ADD model (built by the pytest driver with
// microdeploy's ModelBuilder):
//   x [1,256] int8 input; c [1,256] constant i % 100 + 1; v [1,256] int8 variable,
//   zero point 3
//   op 0: ADD(x, x) -> t1;  op 1: ADD(t1, c) -> out;  op 2: ADD(v, c) -> out2
// with the test kernel (raw saturating add), so expected values are plain sums.
#include <cstddef>
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

namespace {

// The ADD model with SpareAdd kernels configured by `config`: allocates, records the plan and
// the spare grants, and invokes once with x[i] = i % 50 (checking the outputs).
struct SpareRun {
  md::Status status = md::Status::kOk;
  size_t head = 0, tail = 0, used = 0;
  md::PlanRecord records[16] = {};
  int num_records = 0;
  md::SpareRecord spare[8] = {};
  int num_spare = 0;
  bool outputs_right = false;
  ptrdiff_t granted_at[md_test::SpareAddConfig::kOps][md_test::SpareAddConfig::kRequests] = {};
};

SpareRun RunWithSpare(const md_test::SpareAddConfig& config) {
  md_test::SpareConfig() = config;
  static md::MicroOpResolver<1> resolver;
  if (resolver.size() == 0) resolver.Add(md_test::SpareAdd());
  const md_test::File& f = md_test::Model(0);
  Arena arena(kBigArena);
  SpareRun run;
  md::Interpreter interp(f.data, f.size, resolver, arena.block, kBigArena);
  interp.RecordPlan(run.records, 16, &run.num_records);
  interp.RecordSpare(run.spare, 8, &run.num_spare);
  run.status = interp.Init();
  if (run.status == md::Status::kOk) run.status = interp.AllocateTensors();
  if (run.status != md::Status::kOk) return run;
  run.head = interp.ArenaHeadBytes();
  run.tail = interp.ArenaTailBytes();
  run.used = interp.ArenaUsedBytes();
  int8_t* x = interp.Input(0).Data<int8_t>();
  for (int i = 0; i < kN; ++i) x[i] = static_cast<int8_t>(i % 50);
  run.status = interp.Invoke();
  if (run.status != md::Status::kOk) return run;
  run.outputs_right = true;
  for (int i = 0; i < kN; ++i) {
    run.outputs_right &= interp.Output(0).Data<int8_t>()[i] == Sat(2 * (i % 50) + (i % 100 + 1));
    run.outputs_right &= interp.Output(1).Data<int8_t>()[i] == 3 + (i % 100 + 1);
  }
  const md_test::SpareAddConfig& seen = md_test::SpareConfig();
  for (int op = 0; op < md_test::SpareAddConfig::kOps; ++op) {
    for (int k = 0; k < md_test::SpareAddConfig::kRequests; ++k) {
      const uint8_t* p = static_cast<const uint8_t*>(seen.granted[op][k]);
      run.granted_at[op][k] = p == nullptr ? -1 : p - arena.block;  // the head starts there
    }
  }
  return run;
}

// The rule, by brute force over the head's bytes: the largest run free of every buffer live at
// `op` and of `taken` (lowest offset first), as {offset, bytes}.
md::FreeRun BruteForceRun(const SpareRun& plan, int op, const md::SpareRecord* taken,
                          int num_taken) {
  static bool used[kBigArena];
  for (size_t i = 0; i < plan.head; ++i) used[i] = false;
  for (int r = 0; r < plan.num_records; ++r) {
    const md::PlanRecord& b = plan.records[r];
    if (b.first > op || b.last < op) continue;
    for (uint32_t i = 0; i < b.size; ++i) used[b.offset + i] = true;
  }
  for (int t = 0; t < num_taken; ++t) {
    for (uint32_t i = 0; i < md::PlanAlign(taken[t].bytes); ++i) used[taken[t].offset + i] = true;
  }
  md::FreeRun best;
  for (size_t i = 0; i < plan.head;) {
    size_t j = i;
    while (j < plan.head && !used[j]) ++j;
    if (j - i > best.bytes)
      best = md::FreeRun{static_cast<uint32_t>(i), static_cast<uint32_t>(j - i)};
    i = j == i ? i + 1 : j;
  }
  return best;
}

}  // namespace

// The ADD model's plan with a 1024-byte regular scratch at op 0 (worked out by hand, and
// checked against the brute-force rule below): t1 and out run in place over x, so s0 [0, 1024)
// at op 0, x (t1, out) @1024, v @1280, out2 @0; head 1536. Free at op 1: [0, 1024); at op 2:
// [256, 1024); at op 0: nothing.
MD_TEST(InterpreterSpareScratchFillsFreeHeadBytesOnly) {
  md_test::SpareAddConfig base;
  base.regular[0] = 1024;
  const SpareRun without = RunWithSpare(base);
  CHECK(without.status == md::Status::kOk);
  CHECK(without.outputs_right);
  CHECK_EQ(without.head, 1536);
  CHECK_EQ(without.num_spare, 0);

  md_test::SpareAddConfig config = base;
  config.num_spare[0] = 1;  // no gap: none
  config.min_bytes[0][0] = 16;
  config.max_bytes[0][0] = 1 << 20;
  config.num_spare[1] = 2;  // capped at 400, then the rest of the run
  config.min_bytes[1][0] = 16;
  config.max_bytes[1][0] = 400;
  config.min_bytes[1][1] = 16;
  config.max_bytes[1][1] = 1 << 20;
  config.num_spare[2] = 2;  // below the min (768 free): none; then the whole run
  config.min_bytes[2][0] = 800;
  config.max_bytes[2][0] = ~size_t{0};
  config.min_bytes[2][1] = 16;
  config.max_bytes[2][1] = 1 << 20;
  const SpareRun with = RunWithSpare(config);
  CHECK(with.status == md::Status::kOk);
  CHECK(with.outputs_right);  // junk in every granted byte before and after each op changed none
  // The plan itself is untouched: head, every buffer; the tail grows by one entry per request.
  CHECK_EQ(with.head, without.head);
  CHECK_EQ(with.num_records, without.num_records);
  for (int r = 0; r < with.num_records && r < 16; ++r) {
    CHECK_EQ(with.records[r].offset, without.records[r].offset);
    CHECK_EQ(with.records[r].size, without.records[r].size);
  }
  CHECK(with.tail >= without.tail + 5 * 8 - 8 && with.tail <= without.tail + 5 * 8 + 8);
  CHECK_EQ(with.used - with.tail, without.used - without.tail);

  CHECK_EQ(with.num_spare, 5);
  const uint32_t want_offset[5] = {0, 0, 400, 0, 256};
  const uint32_t want_bytes[5] = {0, 400, 624, 0, 768};
  const int op_of[5] = {0, 1, 1, 2, 2};
  const int k_of[5] = {0, 0, 1, 0, 1};
  for (int s = 0; s < 5 && s < with.num_spare; ++s) {
    const md::SpareRecord& r = with.spare[s];
    CHECK_EQ(r.op, op_of[s]);
    CHECK_EQ(r.bytes, want_bytes[s]);
    CHECK_EQ(r.offset, r.bytes > 0 ? want_offset[s] : 0xffffffffu);
    // Invoke saw the same grant.
    CHECK_EQ(with.granted_at[op_of[s]][k_of[s]],
             r.bytes > 0 ? static_cast<ptrdiff_t>(r.offset) : -1);
    // The rule by brute force, with the op's earlier grants as taken bytes.
    int first = s;
    while (first > 0 && with.spare[first - 1].op == r.op) --first;
    md::SpareRecord taken[2];
    int num_taken = 0;
    for (int t = first; t < s; ++t) {
      if (with.spare[t].bytes > 0) taken[num_taken++] = with.spare[t];
    }
    const md::FreeRun run = BruteForceRun(without, r.op, taken, num_taken);
    const size_t min_bytes = config.min_bytes[r.op][k_of[s]];
    const size_t max_bytes = config.max_bytes[r.op][k_of[s]];
    if (run.bytes == 0 || run.bytes < min_bytes) {
      CHECK_EQ(r.bytes, 0);
    } else {
      CHECK_EQ(r.offset, run.offset);
      CHECK_EQ(r.bytes, run.bytes < max_bytes ? run.bytes : max_bytes);
    }
    CHECK_EQ(r.offset % 16, r.bytes > 0 ? 0 : 15);
  }
  // Spare requests of min > max are refused.
  md_test::SpareAddConfig bad = base;
  bad.num_spare[1] = 1;
  bad.min_bytes[1][0] = 32;
  bad.max_bytes[1][0] = 16;
  CHECK(RunWithSpare(bad).status == md::Status::kInvalidArgument);
}
