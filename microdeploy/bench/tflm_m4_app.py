"""The TFLM application of microdeploy.bench.tflm_m4: TFLM's person_detection example reduced to
its core (main.cc), its DebugLog on the mps2-an386 UART (debug_log.cc), and the model and the
inputs as C arrays (model_data.cc)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from microdeploy.errors import ModelError

_MAIN_CC = """\
// Written by microdeploy.bench.tflm_m4: TFLM's person_detection example reduced to its core.
#include <cstdint>
#include <cstring>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" const unsigned char g_model[];
extern "C" const signed char g_inputs[];
extern "C" const unsigned int g_input_count;
extern "C" const unsigned int g_input_bytes;
extern "C" void md_tflm_exit(int code);

namespace {
constexpr int kTensorArenaSize = @ARENA@;
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
}  // namespace

int main() {
  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("md-tflm error: schema version %d", static_cast<int>(model->version()));
    md_tflm_exit(2);
  }
  static tflite::MicroMutableOpResolver<5> resolver;
  resolver.AddAveragePool2D();
  resolver.AddConv2D();
  resolver.AddDepthwiseConv2D();
  resolver.AddReshape();
  resolver.AddSoftmax();
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("md-tflm error: AllocateTensors failed");
    md_tflm_exit(3);
  }
  TfLiteTensor* input = interpreter.input(0);
  if (input->type != kTfLiteInt8 || input->bytes != g_input_bytes) {
    MicroPrintf("md-tflm error: input is not %u int8 bytes", g_input_bytes);
    md_tflm_exit(4);
  }
  for (unsigned int i = 0; i < g_input_count; ++i) {
    std::memcpy(input->data.int8, g_inputs + i * g_input_bytes, g_input_bytes);
    if (interpreter.Invoke() != kTfLiteOk) {
      MicroPrintf("md-tflm error: Invoke failed");
      md_tflm_exit(5);
    }
    TfLiteTensor* output = interpreter.output(0);
    if (output->type != kTfLiteInt8 || output->bytes > 16) {
      MicroPrintf("md-tflm error: output is not up to 16 int8 values");
      md_tflm_exit(6);
    }
    char line[96];
    int used = 0;
    for (size_t k = 0; k < output->bytes; ++k) {
      used += snprintf(line + used, sizeof(line) - used, " %d", output->data.int8[k]);
    }
    MicroPrintf("md-tflm output %u:%s", i, line);
  }
  MicroPrintf("md-tflm arena_used %u", static_cast<unsigned>(interpreter.arena_used_bytes()));
  md_tflm_exit(0);
  return 0;
}
"""

# TFLM's platform hook (cortex_m_generic's debug_log.cc formats with vsnprintf and hands the
# text to a callback; here the callback is mps2-an386's CMSDK UART0) and a semihosting exit.
_DEBUG_LOG_CC = """\
// Written by microdeploy.bench.tflm_m4: TFLM's DebugLog for mps2-an386 (CMSDK UART0).
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/debug_log.h"

namespace {
volatile uint32_t* const kUart0 = reinterpret_cast<volatile uint32_t*>(0x40004000u);

void UartWrite(const char* text) {
  if ((kUart0[2] & 1u) == 0) {
    kUart0[4] = 217u;  // BAUDDIV
    kUart0[2] = 1u;    // CTRL: TX enable
  }
  for (; *text; ++text) {
    while (kUart0[1] & 1u) {
    }
    kUart0[0] = static_cast<uint8_t>(*text);
  }
}
}  // namespace

extern "C" void DebugLog(const char* format, va_list args) {
  char buffer[256];
  vsnprintf(buffer, sizeof(buffer), format, args);
  UartWrite(buffer);
}

extern "C" __attribute__((noreturn)) void md_tflm_exit(int code) {
  // Semihosting SYS_EXIT_EXTENDED (QEMU -semihosting): ADP_Stopped_ApplicationExit, code.
  static volatile uint32_t block[2];
  block[0] = 0x20026u;
  block[1] = static_cast<uint32_t>(code);
  register uint32_t r0 __asm__("r0") = 0x20u;
  register volatile uint32_t* r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  for (;;) {
  }
}

extern "C" void HardFault_Handler(void) { md_tflm_exit(99); }
"""


def _c_array(name: str, data: bytes, ctype: str = "unsigned char") -> str:
    rows = [", ".join(str(b) for b in data[i : i + 32]) for i in range(0, len(data), 32)]
    body = ",\n  ".join(rows)
    return f'extern "C" alignas(16) const {ctype} {name}[] = {{\n  {body}\n}};\n'


def write_app(app_dir: Path, model: bytes, inputs: Sequence[np.ndarray], arena_bytes: int) -> None:
    app_dir.mkdir(parents=True, exist_ok=True)
    flat = [np.ascontiguousarray(a).astype(np.int8, copy=False).tobytes() for a in inputs]
    if not flat or any(len(f) != len(flat[0]) for f in flat):
        raise ModelError("the inputs must be int8 tensors of one size")
    signed = ", ".join(str(int(v)) for v in np.frombuffer(b"".join(flat), dtype=np.int8))
    data = _c_array("g_model", model) + (
        f'extern "C" alignas(16) const signed char g_inputs[] = {{{signed}}};\n'
        f'extern "C" const unsigned int g_input_count = {len(flat)};\n'
        f'extern "C" const unsigned int g_input_bytes = {len(flat[0])};\n'
    )
    (app_dir / "model_data.cc").write_text(data, encoding="utf-8")
    (app_dir / "main.cc").write_text(
        _MAIN_CC.replace("@ARENA@", str(arena_bytes)), encoding="utf-8"
    )
    (app_dir / "debug_log.cc").write_text(_DEBUG_LOG_CC, encoding="utf-8")
