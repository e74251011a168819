// ModelView: real models validate; truncated, corrupted and hostile buffers
// are rejected with a specific status and a message naming the place, never
// read out of bounds (the test binary runs under ASan/UBSan, and each
// truncated model sits in an exactly sized heap block so an overrun shows).
#include <cstdlib>
#include <cstring>

#include "md/interpreter.h"
#include "md/model_view.h"
#include "md_test.h"
#include "test_kernels.h"

namespace {

// An exactly sized, 16-aligned heap copy of a model prefix.
struct Copy {
  uint8_t* data;
  size_t size;
  Copy(const uint8_t* src, size_t n)
      : data(static_cast<uint8_t*>(std::malloc(n ? n : 1))), size(n) {
    std::memcpy(data, src, n);
  }
  ~Copy() { std::free(data); }
  Copy(const Copy&) = delete;
  Copy& operator=(const Copy&) = delete;
};

bool IsRejection(md::Status s) {
  return s == md::Status::kMalformedModel || s == md::Status::kUnsupportedType;
}

// Runs a model that passed validation through prepare/plan/invoke with
// kernels that read every view and write every output.
void RunAnyOps(const uint8_t* model, size_t size) {
  static md_test::AnyOpResolver resolver;
  static uint8_t* arena = static_cast<uint8_t*>(std::aligned_alloc(16, 1 << 20));
  md::Interpreter interp(model, size, resolver, arena, 1 << 20);
  if (interp.Init() != md::Status::kOk) {
    md_test::RecordFailure(__FILE__, __LINE__, interp.error_message());
    return;
  }
  const md::Status s = interp.AllocateTensors();
  if (s == md::Status::kOk) {
    CHECK(interp.Invoke() == md::Status::kOk);
  } else {
    CHECK(s == md::Status::kArenaTooSmall);
  }
}

}  // namespace

MD_TEST(ModelViewAcceptsModels) {
  for (int m = 0; m < md_test::NumModels(); ++m) {
    const md_test::File& f = md_test::Model(m);
    md::ModelView view;
    char error[256];
    const md::Status s = view.Init(f.data, f.size, error, sizeof(error));
    if (s != md::Status::kOk) {
      md_test::RecordFailure(f.path, 0, error);
      continue;
    }
    CHECK_EQ(view.version(), 3);
    CHECK(view.NumTensors() > 0);
    CHECK(view.NumOperators() > 0);
    CHECK(view.NumInputs() > 0);
    CHECK(view.NumOutputs() > 0);
    for (int i = 0; i < view.NumOperators(); ++i) {
      const md::OpInfo op = view.Operator(i);
      CHECK(op.builtin_code == view.OperatorCode(static_cast<int>(op.opcode_index)));
    }
    for (int t = 0; t < view.NumTensors(); ++t) {
      const md::TensorInfo info = view.Tensor(t);
      if (info.data != nullptr) CHECK_EQ(info.data_size, md::ModelView::TensorBytes(info));
      if (info.num_scales > 1) {
        CHECK(info.quantized_dimension < info.rank);
        CHECK_EQ(info.dims[info.quantized_dimension], info.num_scales);
      }
    }
  }
}

MD_TEST(ModelViewRejectsUnalignedBuffer) {
  const md_test::File& f = md_test::Model(0);
  uint8_t* block = static_cast<uint8_t*>(std::aligned_alloc(16, (f.size + 32) & ~size_t{15}));
  std::memcpy(block + 4, f.data, f.size);
  md::ModelView view;
  char error[256];
  CHECK(view.Init(block + 4, f.size, error, sizeof(error)) == md::Status::kMalformedModel);
  CHECK_STR_CONTAINS(error, "aligned");
  CHECK(view.Init(nullptr, 0, error, sizeof(error)) == md::Status::kMalformedModel);
  std::free(block);
}

MD_TEST(ModelViewRejectsTruncatedModels) {
  for (int m = 0; m < md_test::NumModels(); ++m) {
    const md_test::File& f = md_test::Model(m);
    // Every prefix of the first 2 KB, then about 1500 prefixes spread over the rest.
    const size_t step = f.size > 2048 ? (f.size - 2048) / 1500 + 1 : 1;
    int accepted = 0;
    int checked = 0;
    for (size_t n = 0; n < f.size; n += (n < 2048 ? 1 : step)) {
      Copy copy(f.data, n);
      md::ModelView view;
      char error[256] = "";
      const md::Status s = view.Init(copy.data, copy.size, error, sizeof(error));
      ++checked;
      if (s == md::Status::kOk) {
        ++accepted;
        continue;
      }
      CHECK(s == md::Status::kMalformedModel);
      CHECK_STR_CONTAINS(error, "malformed model: ");
      CHECK_STR_CONTAINS(error, " at offset ");
    }
    // A flatbuffer's referenced data reaches its last bytes (the builder
    // writes back to front), so no proper prefix may validate.
    if (accepted != 0) {
      char msg[200];
      std::snprintf(msg, sizeof(msg), "%s: %d of %d truncated copies validated", f.path, accepted,
                    checked);
      md_test::RecordFailure(__FILE__, __LINE__, msg);
    }
  }
}

MD_TEST(ModelViewSurvivesCorruptedModels) {
  md_test::Random rng(12345);
  static const uint32_t kHostile[] = {0x00000000u, 0x00000001u, 0x7fffffffu, 0x80000000u,
                                      0xffffffffu, 0xfffffffcu, 0x00010000u, 0x0000fff0u};
  for (int m = 0; m < md_test::NumModels(); ++m) {
    const md_test::File& f = md_test::Model(m);
    Copy work(f.data, f.size);
    // Small models: every 4-byte aligned word with every hostile value, plus
    // every single byte flipped. Large ones: a few thousand random hits.
    const bool exhaustive = f.size <= 4096;
    const size_t trials = exhaustive ? f.size / 4 * 8 + f.size : 3000;
    int rejected = 0;
    for (size_t trial = 0; trial < trials; ++trial) {
      std::memcpy(work.data, f.data, f.size);
      size_t at;
      if (exhaustive && trial < f.size / 4 * 8) {
        at = trial / 8 * 4;
        std::memcpy(work.data + at, &kHostile[trial % 8], 4);
      } else if (exhaustive) {
        at = trial - f.size / 4 * 8;
        work.data[at] ^= 0xff;
      } else {
        at = rng.Below(static_cast<uint32_t>(f.size - 4)) & ~size_t{3};
        std::memcpy(work.data + at, &kHostile[rng.Below(8)], 4);
      }
      md::ModelView view;
      char error[256] = "";
      const md::Status s = view.Init(work.data, work.size, error, sizeof(error));
      if (s == md::Status::kOk) {
        RunAnyOps(work.data, work.size);
      } else {
        ++rejected;
        CHECK(IsRejection(s));
        CHECK(std::strncmp(
                  error,
                  s == md::Status::kMalformedModel ? "malformed model: " : "unsupported model: ",
                  s == md::Status::kMalformedModel ? 17 : 19) == 0);
      }
    }
    CHECK(rejected > 0);
  }
}

MD_TEST(ModelViewRejectsExternalBufferAndBadIndices) {
  // Patch the ADD model through its own accessors: find the first op's input
  // vector and point an entry past the tensor count.
  const md_test::File& f = md_test::Model(0);
  md::ModelView view;
  char error[256];
  CHECK(view.Init(f.data, f.size, error, sizeof(error)) == md::Status::kOk);
  const md::OpInfo op = view.Operator(0);
  Copy work(f.data, f.size);
  const size_t at = static_cast<size_t>(reinterpret_cast<const uint8_t*>(op.inputs) - f.data);
  const int32_t bad = view.NumTensors();
  std::memcpy(work.data + at, &bad, 4);
  CHECK(view.Init(work.data, work.size, error, sizeof(error)) == md::Status::kMalformedModel);
  CHECK_STR_CONTAINS(error, "operators[0].inputs");
  CHECK_STR_CONTAINS(error, "tensor index");
  const int32_t minus_two = -2;
  std::memcpy(work.data + at, &minus_two, 4);
  CHECK(view.Init(work.data, work.size, error, sizeof(error)) == md::Status::kMalformedModel);
  const int32_t optional = -1;  // an absent optional input is fine
  std::memcpy(work.data + at, &optional, 4);
  CHECK(view.Init(work.data, work.size, error, sizeof(error)) == md::Status::kOk);
}
