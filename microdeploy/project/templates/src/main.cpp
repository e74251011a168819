// Your application, created once by `microdeploy init` (re-running init never rewrites it; use
// --force to start over). It loads the model compiled into model_data.cpp, registers the model's
// ops (md_model_ops.cpp), allocates the tensor arena, runs one inference on the compiled-in
// example input (or zeros), and reports over the serial line as text:
//
//   microdeploy runtime=<version> board=<board> model=<sha16>
//   arena used=<bytes> head=<bytes> tail=<bytes> size=<bytes>
//   output 0 int8 1x2: -113 113
//   time ticks=<n> us=<n> clock=<name> hz=<n>
//   done
//
// then ends the program (native: process exit; QEMU: semihosting exit; real boards: spins).
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "md/interpreter.h"
#include "md/port.h"
#include "md/status.h"
#include "md/types.h"
#include "md_config.h"
#include "md_model_ops.h"
#include "model_data.h"

namespace {

alignas(16) uint8_t g_arena[MD_ARENA_BYTES];

void Print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Print(const char* fmt, ...) {
  char line[200];
  va_list args;
  va_start(args, fmt);
  const int n = vsnprintf(line, sizeof(line), fmt, args);
  va_end(args);
  if (n <= 0) return;
  const size_t len =
      static_cast<size_t>(n) < sizeof(line) ? static_cast<size_t>(n) : sizeof(line) - 1;
  md::port::SerialWrite(reinterpret_cast<const uint8_t*>(line), len);
}

// Decimal text of a 64-bit number (newlib-nano's printf has no %llu).
const char* U64(uint64_t value, char (&text)[24]) {
  char* p = text + sizeof(text) - 1;
  *p = '\0';
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return p;
}

[[noreturn]] void Fail(const char* stage, md::Status status, const char* message) {
  Print("error: %s failed (%s): %s\n", stage, md::StatusName(status), message ? message : "");
  md::port::Exit(1);
}

// One element of an output tensor as text; floats in fixed point (nano printf has no %f).
void PrintElement(const md::TensorView& t, int32_t i) {
  switch (t.type) {
    case md::DataType::kInt8:
      Print(" %d", t.Data<int8_t>()[i]);
      break;
    case md::DataType::kUInt8:
      Print(" %u", t.Data<uint8_t>()[i]);
      break;
    case md::DataType::kInt16:
      Print(" %d", t.Data<int16_t>()[i]);
      break;
    case md::DataType::kInt32:
      Print(" %ld", static_cast<long>(t.Data<int32_t>()[i]));
      break;
    case md::DataType::kFloat32: {
      const float v = t.Data<float>()[i];
      const long micro = static_cast<long>(v * 1e6f);
      const long whole = micro / 1000000;
      const long frac = (micro < 0 ? -micro : micro) % 1000000;
      Print(" %s%ld.%06ld", (micro < 0 && whole == 0) ? "-" : "", whole, frac);
      break;
    }
    default:
      Print(" ?");
      break;
  }
}

void PrintOutput(int index, const md::TensorView& t) {
  Print("output %d %s ", index, md::DataTypeName(t.type));
  for (int d = 0; d < t.rank; ++d) Print(d == 0 ? "%ld" : "x%ld", static_cast<long>(t.Dim(d)));
  Print(":");
  const int32_t shown = t.FlatSize() < 32 ? t.FlatSize() : 32;
  for (int32_t i = 0; i < shown; ++i) PrintElement(t, i);
  Print(shown < t.FlatSize() ? " ...\n" : "\n");
}

}  // namespace

int main() {
  md::port::Init();
  Print("microdeploy runtime=%s board=%s model=%s\n", MD_RUNTIME_VERSION, MD_BOARD_NAME,
        MD_MODEL_SHA16);

  md::MicroOpResolver<MD_MODEL_OP_COUNT> resolver;
  md::Status status = AddModelOps(resolver);
  if (status != md::Status::kOk) Fail("op registration", status, "");

  md::Interpreter interpreter(g_model_data, g_model_data_size, resolver, g_arena, sizeof(g_arena));
  status = interpreter.Init();
  if (status != md::Status::kOk) Fail("model check", status, interpreter.error_message());
  status = interpreter.AllocateTensors();
  if (status != md::Status::kOk) Fail("arena allocation", status, interpreter.error_message());
  Print("arena used=%lu head=%lu tail=%lu size=%lu\n",
        static_cast<unsigned long>(interpreter.ArenaUsedBytes()),
        static_cast<unsigned long>(interpreter.ArenaHeadBytes()),
        static_cast<unsigned long>(interpreter.ArenaTailBytes()),
        static_cast<unsigned long>(sizeof(g_arena)));

  for (int i = 0; i < interpreter.NumInputs(); ++i) {
    const md::TensorView input = interpreter.Input(i);
    const size_t bytes =
        static_cast<size_t>(input.FlatSize()) * static_cast<size_t>(md::DataTypeSize(input.type));
    if (i == 0 && g_example_input_size == bytes) {
      memcpy(input.data, g_example_input, bytes);
    } else {
      memset(input.data, 0, bytes);
    }
  }

  const uint64_t start = md::port::Ticks();
  status = interpreter.Invoke();
  const uint64_t ticks = md::port::Ticks() - start;
  if (status != md::Status::kOk) Fail("inference", status, interpreter.error_message());

  for (int i = 0; i < interpreter.NumOutputs(); ++i) PrintOutput(i, interpreter.Output(i));
  char ticks_text[24];
  char us_text[24];
  const uint64_t us = ticks * 1000000u / md::port::TicksPerSecond();
  Print("time ticks=%s us=%s clock=%s hz=%lu\n", U64(ticks, ticks_text), U64(us, us_text),
        md::port::ClockName(), static_cast<unsigned long>(md::port::TicksPerSecond()));
  Print("done\n");
  md::port::Exit(0);
}
