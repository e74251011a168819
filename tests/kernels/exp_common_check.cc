// Compares md::ExpFloat (runtime_cpp/src/md/kernels/exp_common.h) with the C
// library's expf on every `stride`-th float in [-104, 89] plus special values;
// prints the first mismatches and exits non-zero if there is any. Built and
// run by test_exp_common.py.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "md/kernels/exp_common.h"

namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t stride = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 1;
  uint64_t checked = 0;
  uint64_t mismatches = 0;
  auto check = [&](float x) {
    const float ours = md::ExpFloat(x);
    const float libc = std::exp(x);
    ++checked;
    if (Bits(ours) != Bits(libc) && !(std::isnan(ours) && std::isnan(libc))) {
      if (mismatches < 10) {
        std::printf("x=%a ExpFloat=%a expf=%a\n", static_cast<double>(x), static_cast<double>(ours),
                    static_cast<double>(libc));
      }
      ++mismatches;
    }
  };
  for (uint32_t u = 0; u <= Bits(89.0f); u += stride) check(FromBits(u));
  for (uint32_t u = Bits(-0.0f); u <= Bits(-104.0f); u += stride) check(FromBits(u));
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {inf,           -inf,           std::numeric_limits<float>::quiet_NaN(),
                            88.7f,         88.73f,         -103.9f,
                            -103.98f,      -150.0f,        1000.0f,
                            0x1.62e42ep6f, -0x1.9fe368p6f, 0x1p-30f};
  for (float x : specials) check(x);
  std::printf("checked %llu, mismatches %llu\n", static_cast<unsigned long long>(checked),
              static_cast<unsigned long long>(mismatches));
  return mismatches != 0 ? 1 : 0;
}
