#include <cstdio>
#include <cstdlib>
#include <vector>

#include "md/all_ops.h"
#include "md/app/service.h"
#include "md/port.h"
static uint8_t arena[400000] __attribute__((aligned(16)));
static uint8_t staging[70000];
int main(int argc, char** argv) {
  md::port::Init();
  FILE* f = fopen(argv[1], "rb");
  static std::vector<uint8_t> model;
  int c;
  while ((c = fgetc(f)) != EOF) model.push_back(static_cast<uint8_t>(c));
  static md::MicroOpResolver<32> resolver;
  md::AddAllOps(resolver);
  static md::FixedProfiler<64> profiler;
  size_t arena_size = argc > 2 ? static_cast<size_t>(atoi(argv[2])) : sizeof(arena);
  static md::Interpreter interp(model.data(), model.size(), resolver, arena, arena_size, &profiler);
  md::app::AppConfig cfg;
  cfg.board = "native";
  cfg.runtime_version = "0.1.0";
  cfg.model_hash = "0123456789abcdef";
  cfg.arena_size = arena_size;
  cfg.input_staging = staging;
  cfg.input_staging_size = sizeof(staging);
  cfg.profiler = &profiler;
  cfg.auto_run_ms = argc > 3 ? atoi(argv[3]) : 0;
  md::port::Exit(md::app::Serve(interp, cfg));
}
