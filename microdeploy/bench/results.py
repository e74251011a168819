"""One model's bench figures as a JSON-ready dict, and the results file.

Keys of a model's result (missing parts are absent, never guessed):
- always: model, path, sha16, board, ops, macs, arena_bytes, arena_head, arena_tail,
  tflm_arena_bytes, tflm_arena_head, tflm_arena_tail, arena_ratio, latency_us, tflm_latency_us,
  latency_ratio, latency (method details), bit_exact (our host outputs == TFLM's);
- emulated board: instructions, macs_per_instruction, interpreter_overhead,
  device_bit_exact, conv1x1_macs_per_instruction (when the model has 1x1 convolutions),
  op_profile ([{op, name, instructions, macs}]), firmware (flash_bytes, ram_bytes, arena_bytes,
  model_bytes, runtime_bytes, app_bytes, other_bytes, flash_without_model);
- a model that could not be measured: model, path, board, error.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from microdeploy.errors import MicrodeployError

FORMAT = 1

METHOD = {
    "arena": "ours: the runtime's plan (host runner, head + tail); TFLM: its recording "
    "allocator's total after one invoke (64-bit host build: larger tail than on a 32-bit MCU)",
    "latency": "per-invoke wall time on this host, interleaved batches; ours: -O2 host runner, "
    "steady_clock around Interpreter::Invoke() (first invoke per batch dropped); TFLM: Python "
    "interpreter, perf_counter_ns around invoke() only; medians; ratio = ours / TFLM",
    "instructions": "QEMU -icount shift=0: SysTick ticks x (1e9 / hz) instructions; per op from "
    "the interpreter's profiler; smaller of two inferences",
    "interpreter_overhead": "(inference ticks - sum of per-op kernel ticks) / inference ticks",
    "inputs": "seeded random values over each input's whole range (seed 0), same on every target",
}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def document(results: list[dict]) -> dict:
    return {
        "format": FORMAT,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "tflite_micro": _version("tflite-micro"),
            "microdeploy": _version("microdeploy"),
        },
        "method": METHOD,
        "results": results,
    }


def save(results: list[dict], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document(results), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MicrodeployError(
            f"cannot write {path}: {exc.strerror}", hint="choose another --out path"
        ) from None
