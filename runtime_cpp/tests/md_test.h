// A tiny test harness for the runtime's C++ unit tests (no third-party
// framework). MD_TEST(name) registers a test; CHECK* record a failure with
// file:line and keep going; md_test_main.cc runs every test (or those whose
// name contains argv's --filter) and exits non-zero on any failure.
//
// Model files given on the command line are available to tests through
// md_test::Models(): the first is the small ADD model the pytest driver
// builds with microdeploy's ModelBuilder, the rest are reference models.
#ifndef MD_TESTS_MD_TEST_H_
#define MD_TESTS_MD_TEST_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace md_test {

using TestFn = void (*)();

struct Registrar {
  Registrar(const char* name, TestFn fn);
};

void RecordFailure(const char* file, int line, const char* what);
int Failures();

// A file read into a 16-byte aligned heap block (as ModelView requires).
struct File {
  const char* path = nullptr;
  uint8_t* data = nullptr;
  size_t size = 0;
};
int NumModels();
const File& Model(int i);  // 0: the ADD model; 1..: reference models

// Deterministic pseudo-random numbers for fuzzing (xorshift64*).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed ? seed : 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 2685821657736338717ull;
  }
  // Uniform in [0, n).
  uint32_t Below(uint32_t n) { return n ? static_cast<uint32_t>(Next() % n) : 0; }

 private:
  uint64_t state_;
};

}  // namespace md_test

#define MD_TEST(name)                                         \
  static void name();                                         \
  static ::md_test::Registrar name##_registrar(#name, &name); \
  static void name()

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) ::md_test::RecordFailure(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_EQ(a, b)                                                                          \
  do {                                                                                          \
    const long long md_a_ = static_cast<long long>(a);                                          \
    const long long md_b_ = static_cast<long long>(b);                                          \
    if (md_a_ != md_b_) {                                                                       \
      char md_msg_[256];                                                                        \
      std::snprintf(md_msg_, sizeof(md_msg_), "%s == %s (%lld vs %lld)", #a, #b, md_a_, md_b_); \
      ::md_test::RecordFailure(__FILE__, __LINE__, md_msg_);                                    \
    }                                                                                           \
  } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                                      \
  do {                                                                                            \
    const char* md_h_ = (haystack);                                                               \
    if (md_h_ == nullptr || std::strstr(md_h_, (needle)) == nullptr) {                            \
      char md_msg_[512];                                                                          \
      std::snprintf(md_msg_, sizeof(md_msg_), "\"%s\" contains \"%s\"", md_h_ ? md_h_ : "(null)", \
                    (needle));                                                                    \
      ::md_test::RecordFailure(__FILE__, __LINE__, md_msg_);                                      \
    }                                                                                             \
  } while (0)

#endif  // MD_TESTS_MD_TEST_H_
