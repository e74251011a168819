// md_host_run: runs a .tflite model on the host with the md runtime and prints
// one JSON object (see docs/architecture.md, "Host runner"). Used by
// microdeploy/host_runtime.py and the tests; not part of any firmware.
//
//   md_host_run MODEL.tflite [--arena BYTES] [--repeat N] [--profile] [--plan]
//               [--tiling auto|off|on] [--spare-probe MIN,MAX,COUNT] INPUT.bin...
//
// The model file is copied into a 16-byte aligned buffer (ModelView needs
// it). Without --arena a generous arena is used and the JSON reports what the
// model needed. With --repeat N the model is invoked N times, the inputs
// copied in before each (untimed); outputs are those of the last invoke
// (which differ from the first only for stateful models: SVDF, LSTM). Failures print
// {"error":"<StatusName>","message":"..."} and exit with status 2. --tiling sets the
// patch-based execution policy (md::Tiling, default auto).
//
// --spare-probe (for tests of spare scratch, kernel.h RequestSpareScratch): every op, after its
// kernel's prepare, asks COUNT times for spare scratch of MIN to MAX bytes, and every granted
// byte is overwritten with junk just before and just after its kernel's invoke, so a grant that
// overlapped a buffer live at its op would change the outputs. --plan lists the requests and
// their grants under "spare" (always there, empty without requests).
//
// The profiler's clock comes from ports/native/port.cc (steady_clock, microseconds),
// which is linked in; this tool defines no md::port functions itself. invoke_us is
// read from steady_clock directly at its full (nanosecond) resolution, so that
// models taking a few microseconds still get a usable figure (bench).
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "md/all_ops.h"
#include "md/interpreter.h"
#include "md/op_resolver.h"
#include "md/port.h"
#include "md/profiler.h"
#include "md/types.h"

namespace {

constexpr size_t kDefaultArenaBytes = 64u << 20;
constexpr int kMaxProfileRecords = 4096;

// One heap block with a 16-aligned pointer inside (the tool may use the heap;
// the runtime does not).
struct AlignedBlock {
  void* raw = nullptr;
  uint8_t* data = nullptr;
  size_t size = 0;
  bool Allocate(size_t n) {
    raw = std::malloc(n + 16);
    if (raw == nullptr) return false;
    data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 15) & ~uintptr_t{15});
    size = n;
    return true;
  }
  ~AlignedBlock() { std::free(raw); }
};

void PrintJsonString(const char* s) {
  std::putchar('"');
  for (; *s != '\0'; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      std::printf("\\%c", c);
    } else if (c < 0x20) {
      std::printf("\\u%04x", c);
    } else {
      std::putchar(c);
    }
  }
  std::putchar('"');
}

[[noreturn]] void Fail(const char* error, const char* message, long long needed = -1) {
  std::printf("{\"error\":");
  PrintJsonString(error);
  std::printf(",\"message\":");
  PrintJsonString(message);
  if (needed >= 0) std::printf(",\"needed\":%lld", needed);
  std::printf("}\n");
  std::fflush(stdout);
  std::exit(2);
}

[[noreturn]] void FailStatus(md::Status s, const char* message, long long needed = -1) {
  Fail(md::StatusName(s), message, needed);
}

bool ReadFile(const char* path, AlignedBlock* out) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  bool ok = std::fseek(f, 0, SEEK_END) == 0;
  const long size = ok ? std::ftell(f) : -1;
  ok = ok && size >= 0 && std::fseek(f, 0, SEEK_SET) == 0 &&
       out->Allocate(static_cast<size_t>(size)) &&
       std::fread(out->data, 1, static_cast<size_t>(size), f) == static_cast<size_t>(size);
  std::fclose(f);
  return ok;
}

bool ParseSize(const char* text, unsigned long long* value) {
  char* end = nullptr;
  if (text == nullptr || *text == '\0' || *text == '-') return false;
  *value = std::strtoull(text, &end, 10);
  return end != nullptr && *end == '\0';
}

void PrintTensorData(const md::TensorView& t) {
  const int32_t n = t.FlatSize();
  for (int32_t i = 0; i < n; ++i) {
    if (i) std::putchar(',');
    switch (t.type) {
      case md::DataType::kInt8:
        std::printf("%d", t.Data<int8_t>()[i]);
        break;
      case md::DataType::kUInt8:
      case md::DataType::kBool:
        std::printf("%u", t.Data<uint8_t>()[i]);
        break;
      case md::DataType::kInt16:
        std::printf("%d", t.Data<int16_t>()[i]);
        break;
      case md::DataType::kInt32:
        std::printf("%" PRId32, t.Data<int32_t>()[i]);
        break;
      case md::DataType::kInt64:
        std::printf("%" PRId64, t.Data<int64_t>()[i]);
        break;
      case md::DataType::kFloat32: {
        const float v = t.Data<float>()[i];
        // %.9g round-trips a float32 exactly; JSON has no NaN/Inf.
        if (!std::isfinite(v)) {
          std::printf("null");
        } else {
          std::printf("%.9g", static_cast<double>(v));
        }
        break;
      }
      default:
        std::printf("null");
    }
  }
}

// --spare-probe: every op's registration, with prepare and invoke wrapped (see the top).
struct SpareProbe {
  unsigned long long min_bytes = 0, max_bytes = 0, count = 0;
  const md::OpResolver* kernels = nullptr;  // the real ones
  const md::Interpreter* interp = nullptr;
  int* indices = nullptr;  // op * count + k: the op's k-th spare scratch index
};
SpareProbe g_probe;

const md::KernelRegistration* RealKernel(const md::OpContext& ctx) {
  return g_probe.kernels->Find(g_probe.interp->model().Operator(ctx.op_index()).builtin_code);
}

md::Status ProbePrepare(md::OpContext& ctx) {
  const md::KernelRegistration* real = RealKernel(ctx);
  if (real->prepare != nullptr) {
    const md::Status s = real->prepare(ctx);
    if (s != md::Status::kOk) return s;
  }
  for (unsigned long long k = 0; k < g_probe.count; ++k) {
    const md::Status s = ctx.RequestSpareScratch(
        static_cast<size_t>(g_probe.min_bytes), static_cast<size_t>(g_probe.max_bytes),
        &g_probe.indices[ctx.op_index() * g_probe.count + k]);
    if (s != md::Status::kOk) return s;
  }
  return md::Status::kOk;
}

void SpoilSpare(const md::OpContext& ctx) {
  for (unsigned long long k = 0; k < g_probe.count; ++k) {
    size_t bytes = 0;
    void* p = ctx.SpareScratch(g_probe.indices[ctx.op_index() * g_probe.count + k], &bytes);
    if (p != nullptr) std::memset(p, 0xa5, bytes);
  }
}

md::Status ProbeInvoke(md::OpContext& ctx) {
  SpoilSpare(ctx);
  const md::Status s = RealKernel(ctx)->invoke(ctx);
  SpoilSpare(ctx);
  return s;
}

class SpareProbeResolver : public md::OpResolver {
 public:
  const md::KernelRegistration* Find(int32_t op) const override {
    for (int i = 0; i < count_; ++i) {
      if (wrapped_[i].op == op) return &wrapped_[i];
    }
    const md::KernelRegistration* real = g_probe.kernels->Find(op);
    if (real == nullptr || count_ == kMax) return real;
    wrapped_[count_] = *real;
    wrapped_[count_].prepare = ProbePrepare;
    wrapped_[count_].invoke = ProbeInvoke;
    return &wrapped_[count_++];
  }

 private:
  static constexpr int kMax = 64;
  mutable md::KernelRegistration wrapped_[kMax] = {};
  mutable int count_ = 0;
};

bool ParseProbe(const char* text, SpareProbe* probe) {
  char* end = nullptr;
  unsigned long long v[3];
  for (int i = 0; i < 3; ++i) {
    if (text == nullptr || *text < '0' || *text > '9') return false;
    v[i] = std::strtoull(text, &end, 10);
    if (*end != (i < 2 ? ',' : '\0')) return false;
    text = end + 1;
  }
  probe->min_bytes = v[0];
  probe->max_bytes = v[1];
  probe->count = v[2];
  return v[2] >= 1 && v[2] <= 16;
}

void PrintSpare(const md::SpareRecord* records, int count) {
  std::printf(",\"spare\":[");
  for (int i = 0; i < count; ++i) {
    const md::SpareRecord& r = records[i];
    std::printf("%s{\"op\":%d,\"min\":%u,\"max\":%u,\"offset\":%lld,\"bytes\":%u}", i ? "," : "",
                static_cast<int>(r.op), static_cast<unsigned>(r.min_bytes),
                static_cast<unsigned>(r.max_bytes),
                r.bytes > 0 ? static_cast<long long>(r.offset) : -1LL,
                static_cast<unsigned>(r.bytes));
  }
  std::printf("]");
}

struct Options {
  const char* model = nullptr;
  unsigned long long arena = 0;
  bool arena_given = false;
  unsigned long long repeat = 1;
  bool profile = false;
  bool plan = false;
  bool probe = false;
  md::Tiling tiling = md::Tiling::kAuto;
  const char* inputs[64] = {};
  int num_inputs = 0;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--arena") == 0 || std::strcmp(a, "--repeat") == 0) {
      unsigned long long v = 0;
      if (i + 1 >= argc || !ParseSize(argv[i + 1], &v)) {
        Fail("InvalidArgument", "--arena/--repeat need a non-negative integer");
      }
      if (a[2] == 'a') {
        o.arena = v;
        o.arena_given = true;
      } else {
        o.repeat = v;
      }
      ++i;
    } else if (std::strcmp(a, "--profile") == 0) {
      o.profile = true;
    } else if (std::strcmp(a, "--plan") == 0) {
      o.plan = true;
    } else if (std::strcmp(a, "--tiling") == 0) {
      const char* v = i + 1 < argc ? argv[i + 1] : "";
      if (std::strcmp(v, "auto") == 0) {
        o.tiling = md::Tiling::kAuto;
      } else if (std::strcmp(v, "off") == 0) {
        o.tiling = md::Tiling::kOff;
      } else if (std::strcmp(v, "on") == 0) {
        o.tiling = md::Tiling::kOn;
      } else {
        Fail("InvalidArgument", "--tiling needs auto, off or on");
      }
      ++i;
    } else if (std::strcmp(a, "--spare-probe") == 0) {
      if (i + 1 >= argc || !ParseProbe(argv[i + 1], &g_probe)) {
        Fail("InvalidArgument", "--spare-probe needs MIN,MAX,COUNT (bytes, bytes, 1 to 16)");
      }
      o.probe = true;
      ++i;
    } else if (a[0] == '-' && a[1] == '-') {
      Fail(
          "InvalidArgument",
          "unknown option; usage: md_host_run MODEL.tflite [--arena BYTES] [--repeat N] "
          "[--profile] [--plan] [--tiling auto|off|on] [--spare-probe MIN,MAX,COUNT] INPUT.bin...");
    } else if (o.model == nullptr) {
      o.model = a;
    } else if (o.num_inputs < 64) {
      o.inputs[o.num_inputs++] = a;
    } else {
      Fail("InvalidArgument", "more than 64 input files");
    }
  }
  if (o.model == nullptr) {
    Fail("InvalidArgument",
         "usage: md_host_run MODEL.tflite [--arena BYTES] [--repeat N] [--profile] [--plan] "
         "[--tiling auto|off|on] [--spare-probe MIN,MAX,COUNT] INPUT.bin...");
  }
  if (o.repeat < 1) Fail("InvalidArgument", "--repeat must be at least 1");
  return o;
}

void PrintPlan(const md::Interpreter& interp, const md::PlanRecord* records, int count,
               const md::SpareRecord* spare, int spare_count) {
  std::printf("{\"head\":%zu,\"tail\":%zu,\"arena_bytes\":%zu,\"buffers\":[",
              interp.ArenaHeadBytes(), interp.ArenaTailBytes(), interp.ArenaUsedBytes());
  for (int i = 0; i < count; ++i) {
    const md::PlanRecord& r = records[i];
    std::printf(
        "%s{\"id\":%d,\"tensor\":%d,\"op\":%d,\"size\":%u,\"first\":%d,\"last\":%d,"
        "\"offset\":%u,\"alias\":%d}",
        i ? "," : "", r.id, r.tensor, r.op, r.size, r.first, r.last, r.offset, r.alias);
  }
  std::printf("],\"stage\":[%d,%d]", interp.PatchStageFirst(), interp.PatchStageLast());
  PrintSpare(spare, spare_count);
  std::printf("}\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  AlignedBlock model;
  if (!ReadFile(opt.model, &model)) {
    char msg[512];
    std::snprintf(msg, sizeof(msg), "cannot read model file %s", opt.model);
    Fail("InvalidArgument", msg);
  }

  static md::MicroOpResolver<32> resolver;
  md::AddAllOps(resolver);
  const size_t arena_size = opt.arena_given ? static_cast<size_t>(opt.arena) : kDefaultArenaBytes;
  AlignedBlock arena;
  if (!arena.Allocate(arena_size)) Fail("InvalidArgument", "cannot allocate the arena");

  static md::FixedProfiler<kMaxProfileRecords> profiler;
  static SpareProbeResolver probe_resolver;
  g_probe.kernels = &resolver;
  md::Interpreter interp(model.data, model.size,
                         opt.probe ? static_cast<const md::OpResolver&>(probe_resolver) : resolver,
                         arena.data, arena_size, opt.profile ? &profiler : nullptr);
  g_probe.interp = &interp;
  md::Status s = interp.Init();
  if (s != md::Status::kOk) FailStatus(s, interp.error_message());
  interp.SetTiling(opt.tiling);

  const int max_records = interp.model().NumTensors() + 4096;
  md::PlanRecord* records =
      static_cast<md::PlanRecord*>(std::malloc(sizeof(md::PlanRecord) * max_records));
  int num_records = 0;
  if (opt.plan) interp.RecordPlan(records, max_records, &num_records);
  const int num_ops = interp.model().NumOperators();
  // Room for the probe's requests and the kernels' own (CONV_2D asks once: conv_2d.cc).
  const int max_spare = num_ops * (static_cast<int>(g_probe.count) + 4) + 1;
  md::SpareRecord* spare =
      static_cast<md::SpareRecord*>(std::malloc(sizeof(md::SpareRecord) * max_spare));
  g_probe.indices = static_cast<int*>(std::malloc(sizeof(int) * max_spare));
  int num_spare = 0;
  if (opt.plan) interp.RecordSpare(spare, max_spare, &num_spare);
  s = interp.AllocateTensors();
  if (s == md::Status::kArenaTooSmall) {
    FailStatus(s, interp.error_message(), static_cast<long long>(interp.ArenaRequiredBytes()));
  }
  if (s != md::Status::kOk) FailStatus(s, interp.error_message());
  if (opt.plan) {
    PrintPlan(interp, records, num_records < max_records ? num_records : max_records, spare,
              num_spare < max_spare ? num_spare : max_spare);
    std::free(records);
    std::free(spare);
    return 0;
  }
  std::free(records);
  std::free(spare);

  if (opt.num_inputs != interp.NumInputs()) {
    char msg[160];
    std::snprintf(msg, sizeof(msg), "model has %d inputs, %d input files given", interp.NumInputs(),
                  opt.num_inputs);
    Fail("InvalidArgument", msg);
  }
  // Inputs are planned like any activation, so later ops may reuse their
  // bytes: keep the files and copy them in before every invoke.
  static AlignedBlock files[64];
  for (int i = 0; i < opt.num_inputs; ++i) {
    const md::TensorView in = interp.Input(i);
    const size_t bytes =
        static_cast<size_t>(in.FlatSize()) * static_cast<size_t>(md::DataTypeSize(in.type));
    char msg[600];
    if (in.is_constant || in.data == nullptr) {
      std::snprintf(msg, sizeof(msg), "input %d is a constant tensor of the model", i);
      Fail("InvalidArgument", msg);
    }
    if (!ReadFile(opt.inputs[i], &files[i])) {
      std::snprintf(msg, sizeof(msg), "cannot read input file %s", opt.inputs[i]);
      Fail("InvalidArgument", msg);
    }
    if (files[i].size != bytes) {
      std::snprintf(msg, sizeof(msg), "input %d must be %zu bytes (%s), file %s has %zu bytes", i,
                    bytes, md::DataTypeName(in.type), opt.inputs[i], files[i].size);
      Fail("InvalidArgument", msg);
    }
  }

  double* invoke_us = static_cast<double*>(std::malloc(sizeof(double) * opt.repeat));
  for (unsigned long long r = 0; r < opt.repeat; ++r) {
    for (int i = 0; i < opt.num_inputs; ++i) {
      if (files[i].size) std::memcpy(interp.Input(i).data, files[i].data, files[i].size);
    }
    profiler.Reset();
    const auto start = std::chrono::steady_clock::now();
    s = interp.Invoke();
    invoke_us[r] =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (s != md::Status::kOk) FailStatus(s, interp.error_message());
  }

  std::printf("{\"arena_bytes\":%zu,\"arena_head\":%zu,\"arena_tail\":%zu,\"outputs\":[",
              interp.ArenaUsedBytes(), interp.ArenaHeadBytes(), interp.ArenaTailBytes());
  for (int i = 0; i < interp.NumOutputs(); ++i) {
    const md::TensorView out = interp.Output(i);
    std::printf("%s{\"type\":\"%s\",\"shape\":[", i ? "," : "", md::DataTypeName(out.type));
    for (int d = 0; d < out.rank; ++d) std::printf("%s%d", d ? "," : "", out.Dim(d));
    std::printf("],\"data\":[");
    PrintTensorData(out);
    std::printf("]}");
  }
  std::printf("],\"invoke_us\":[");
  for (unsigned long long r = 0; r < opt.repeat; ++r) {
    std::printf("%s%.3f", r ? "," : "", invoke_us[r]);
  }
  std::free(invoke_us);
  std::printf("],\"clock\":\"%s\",\"ticks_per_second\":%u", md::port::ClockName(),
              md::port::TicksPerSecond());
  if (opt.profile) {
    std::printf(",\"profile\":[");
    for (int i = 0; i < profiler.count(); ++i) {
      const md::ProfileRecord& p = profiler.record(i);
      std::printf("%s{\"op\":%d,\"name\":\"%s\",\"ticks\":%" PRIu64 "}", i ? "," : "", p.op, p.name,
                  p.ticks);
    }
    std::printf("]");
  }
  std::printf("}\n");
  return 0;
}
