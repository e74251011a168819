// Host test fixture: the protocol service (md::app::Serve) on stdin/stdout for any model file.
//   serve_main MODEL.tflite [ARENA_BYTES] [AUTO_MS] [nostaging]
// tests/test_device_session.py drives it through pipes, with faults injected on the way.
// (Reading the model into a std::vector is fine here: this is a host test, not the runtime.)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "md/all_ops.h"
#include "md/app/service.h"
#include "md/port.h"

namespace {

alignas(16) uint8_t g_arena[1 << 20];
uint8_t g_staging[1 << 18];
md::FixedProfiler<256> g_profiler;

}  // namespace

int main(int argc, char** argv) {
  md::port::Init();
  if (argc < 2) {
    std::fprintf(stderr, "usage: serve_main MODEL [ARENA_BYTES] [AUTO_MS] [nostaging]\n");
    return 2;
  }
  std::FILE* file = std::fopen(argv[1], "rb");
  if (file == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  static std::vector<uint8_t> model;
  for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) {
    model.push_back(static_cast<uint8_t>(c));
  }
  std::fclose(file);
  const size_t arena_size =
      argc > 2 ? static_cast<size_t>(std::strtoul(argv[2], nullptr, 10)) : sizeof(g_arena);
  static md::MicroOpResolver<32> resolver;
  md::AddAllOps(resolver);
  static md::Interpreter interpreter(model.data(), model.size(), resolver, g_arena,
                                     arena_size < sizeof(g_arena) ? arena_size : sizeof(g_arena),
                                     &g_profiler);
  md::app::AppConfig config;
  config.board = "native";
  config.runtime_version = "test";
  config.model_hash = "0000000000000000";
  config.arena_size = arena_size;
  const bool staging = !(argc > 4 && std::strcmp(argv[4], "nostaging") == 0);
  config.input_staging = staging ? g_staging : nullptr;
  config.input_staging_size = staging ? sizeof(g_staging) : 0;
  config.auto_run_ms = argc > 3 ? static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)) : 0;
  config.profiler = &g_profiler;
  md::port::Exit(md::app::Serve(interpreter, config));
}
