// Compares md::TanhFloat (kernels/sigmoid_tanh_common.h), the tanhf our float
// kernels use on targets without glibc, with glibc's tanhf bit for bit over
// every `stride`-th float bit pattern (all 2^32 with stride 1: 0 mismatches).
// Built and run by tests/kernels/test_tanh.py; prints "mismatches N".
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "md/kernels/sigmoid_tanh_common.h"

int main(int argc, char** argv) {
  const uint64_t stride = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  uint64_t checked = 0;
  uint64_t mismatches = 0;
  for (uint64_t u = 0; u <= 0xffffffffull; u += stride) {
    const uint32_t bits = static_cast<uint32_t>(u);
    float x;
    std::memcpy(&x, &bits, sizeof x);
    const float ours = md::TanhFloat(x);
    const float glibc = tanhf(x);
    ++checked;
    if (std::isnan(ours) && std::isnan(glibc)) continue;
    uint32_t a;
    uint32_t b;
    std::memcpy(&a, &ours, sizeof a);
    std::memcpy(&b, &glibc, sizeof b);
    if (a != b) {
      if (mismatches < 10) std::printf("x=%a ours=%a glibc=%a\n", x, ours, glibc);
      ++mismatches;
    }
  }
  std::printf("checked %llu mismatches %llu\n", static_cast<unsigned long long>(checked),
              static_cast<unsigned long long>(mismatches));
  return mismatches == 0 ? 0 : 1;
}
