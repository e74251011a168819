// Runs the registered MD_TESTs. Usage: md_tests [--filter SUBSTRING] ADD_MODEL [MODEL...]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "md_test.h"

namespace md_test {
namespace {

struct Test {
  const char* name;
  TestFn fn;
};
Test g_tests[256];
int g_num_tests = 0;
int g_failures = 0;
File g_models[64];
int g_num_models = 0;

bool ReadFile(const char* path, File* out) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  // aligned_alloc needs a size that is a multiple of the alignment.
  const size_t padded = (static_cast<size_t>(size) + 15) & ~size_t{15};
  out->data = static_cast<uint8_t*>(std::aligned_alloc(16, padded ? padded : 16));
  out->size = static_cast<size_t>(size);
  out->path = path;
  const bool ok = std::fread(out->data, 1, out->size, f) == out->size;
  std::fclose(f);
  return ok;
}

}  // namespace

Registrar::Registrar(const char* name, TestFn fn) {
  if (g_num_tests < 256) g_tests[g_num_tests++] = Test{name, fn};
}

void RecordFailure(const char* file, int line, const char* what) {
  ++g_failures;
  if (g_failures <= 50) std::printf("FAILED %s:%d: %s\n", file, line, what);
}

int Failures() { return g_failures; }
int NumModels() { return g_num_models; }
const File& Model(int i) { return g_models[i]; }

}  // namespace md_test

int main(int argc, char** argv) {
  const char* filter = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (md_test::g_num_models < 64) {
      if (!md_test::ReadFile(argv[i], &md_test::g_models[md_test::g_num_models])) {
        std::printf("cannot read %s\n", argv[i]);
        return 2;
      }
      ++md_test::g_num_models;
    }
  }
  if (md_test::g_num_models == 0) {
    std::printf("usage: md_tests [--filter SUBSTRING] ADD_MODEL [MODEL...]\n");
    return 2;
  }
  int run = 0;
  for (int t = 0; t < md_test::g_num_tests; ++t) {
    const md_test::Test& test = md_test::g_tests[t];
    if (filter != nullptr && std::strstr(test.name, filter) == nullptr) continue;
    const int before = md_test::g_failures;
    test.fn();
    std::printf("%s %s\n", md_test::g_failures == before ? "ok  " : "FAIL", test.name);
    ++run;
  }
  for (int i = 0; i < md_test::g_num_models; ++i) std::free(md_test::g_models[i].data);
  std::printf("%d tests, %d failed checks\n", run, md_test::g_failures);
  return md_test::g_failures == 0 && run > 0 ? 0 : 1;
}
