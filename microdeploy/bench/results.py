"""One model's bench figures as a JSON-ready dict, and the results file.

Keys of a model's result (missing parts are absent, never guessed):
- always: model, path, sha16, board, ops, macs, arena_bytes, arena_head, arena_tail,
  tflm_arena_bytes, tflm_arena_head, tflm_arena_tail, arena_ratio, latency_us, tflm_latency_us,
  latency_ratio, latency (method details), bit_exact (our host outputs == TFLM's), tiling (our
  patch-based execution policy: auto, off, on), stage ([first, last] op streamed, or null),
  x86_64_code_size (codesize.compare for the model's op set: ours, ours_portable_kernels,
  ours_reference_kernels, tflm as {bytes, core_bytes, kernel_bytes, functions}, ratio,
  portable_kernels_ratio, reference_kernels_ratio, ...; or {error});
- emulated board: instructions (an unprofiled inference), macs_per_instruction,
  interpreter_overhead, profiled_instructions, profiled_interpreter_overhead,
  exact_invoke (insn_profile: one unprofiled Invoke() counted by a QEMU plugin: instructions,
  dispatch_instructions, interpreter_overhead = dispatch / instructions, accessor_instructions,
  library_instructions;
  or {error}),
  reference_instructions (the same firmware built with the reference kernels only),
  instructions_vs_reference, device_bit_exact, reference_device_bit_exact,
  conv1x1_macs_per_instruction (when the model has 1x1 convolutions),
  op_profile ([{op, name, instructions, reference_instructions, macs}]), firmware (flash_bytes,
  ram_bytes, arena_bytes, model_bytes, runtime_bytes, app_bytes, other_bytes,
  flash_without_model, runtime_objects: {object file under md_runtime: flash bytes});
- a model that could not be measured: model, path, board, error.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from microdeploy import paths
from microdeploy.errors import MicrodeployError

FORMAT = 1

METHOD = {
    "arena": "ours: the runtime's plan (host runner, head + tail); TFLM: its recording "
    "allocator's total after one invoke (64-bit host build: larger tail than on a 32-bit MCU)",
    "latency": "per-invoke wall time on this host, interleaved batches; ours: -O2 host runner, "
    "steady_clock around Interpreter::Invoke() (first invoke per batch dropped); TFLM: Python "
    "interpreter, perf_counter_ns around invoke() only; medians; ratio = ours / TFLM",
    "instructions": "QEMU -icount shift=0: SysTick ticks x (1e9 / hz) instructions; smaller of "
    "two unprofiled inferences (no profiler attached); per op from the interpreter's profiler in "
    "a third, profiled inference; the board's kernels (optimized where the core allows) and, for "
    "reference_instructions, the same firmware with -DMD_KERNELS_REFERENCE",
    "exact_invoke": "one unprofiled Interpreter::Invoke() counted instruction by instruction by a "
    "QEMU plugin and attributed to functions by the firmware's symbols; interpreter_overhead = "
    "instructions in the interpreter's dispatch functions (insn_profile.DISPATCH) / all",
    "interpreter_overhead": "(unprofiled inference ticks - sum of per-op kernel ticks) / "
    "unprofiled inference ticks; profiled_interpreter_overhead: the same within the profiled "
    "inference (the profiler's clock reads counted as overhead)",
    "inputs": "seeded random values over each input's whole range (seed 0), same on every target",
    "x86_64_code_size": "a same-architecture proxy (no Cortex-M build of TFLM here): x86-64 "
    "functions reachable from the interpreter's entry points and the model's op registrations "
    "(calls, jumps, addresses taken, vtables and registration tables), symbol sizes summed; "
    "ours = the -O2 host runner, TFLM = the tflite-micro wheel's library without its optional "
    "decompression code; ratio = ours / TFLM",
}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _checkout() -> dict[str, object]:
    """The commit measured, and whether runtime_cpp/ had uncommitted changes (best effort)."""
    root = str(paths.repo_root())
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        status = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "runtime_cpp"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return {}
    if head.returncode != 0:
        return {}
    return {"commit": head.stdout.strip(), "runtime_uncommitted_changes": bool(status.stdout)}


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
        "checkout": _checkout(),
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


def _us(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.3f}"


def exact_overhead(result: dict) -> str:
    """The plugin-counted interpreter overhead as a percentage, "-" when not measured."""
    exact = result.get("exact_invoke") or {}
    return f"{100 * exact['interpreter_overhead']:.3f}%" if "interpreter_overhead" in exact else "-"


def code_size_table(results: list[dict]) -> str:
    """Runtime code per op set, x86-64 proxy (one row per distinct op set), as Markdown."""
    head = ["op set", "models", "ours B", "portable kernels B", "reference kernels B", "TFLM B"]
    head += ["ratio", "portable ratio", "reference ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows: dict[tuple[str, ...], list[str]] = {}
    figures: dict[tuple[str, ...], dict] = {}
    for r in results:
        size = r.get("x86_64_code_size")
        if not size or "error" in size:
            continue
        key = tuple(size["ops"])
        rows.setdefault(key, []).append(r["model"])
        figures[key] = size
    for key, names in rows.items():
        size = figures[key]
        lines.append(
            "| "
            + " | ".join(
                [
                    ", ".join(key),
                    ", ".join(names),
                    f"{size['ours']['bytes']:,}",
                    f"{size['ours_portable_kernels']['bytes']:,}",
                    f"{size['ours_reference_kernels']['bytes']:,}",
                    f"{size['tflm']['bytes']:,}",
                    f"{size['ratio']:.2f}",
                    f"{size['portable_kernels_ratio']:.2f}",
                    f"{size['reference_kernels_ratio']:.2f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def markdown_table(results: list[dict]) -> str:
    """The results as a Markdown table (benchmarks/README.md is made with it)."""
    device = any("instructions" in r for r in results)
    head = ["model", "arena B (ours / TFLM)", "arena ratio", "host latency us (ours / TFLM)"]
    head += ["latency ratio"]
    if device:
        head += ["M4 instructions", "vs reference kernels", "MACs/instr", "1x1 conv MACs/instr"]
        head += ["overhead (ticks)", "overhead (exact)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['model']} | error: {r['error']} |" + " |" * (len(head) - 2))
            continue
        cells = [
            r["model"],
            f"{r['arena_bytes']:,} / {r['tflm_arena_bytes']:,}",
            f"{r['arena_ratio']:.2f}",
            f"{_us(r['latency_us'])} / {_us(r['tflm_latency_us'])}",
            f"{r['latency_ratio']:.2f}",
        ]
        if device:
            conv = r.get("conv1x1_macs_per_instruction")
            cells += [
                f"{r['instructions']:,}" if "instructions" in r else "-",
                f"{r['instructions_vs_reference']:.2f}" if "instructions" in r else "-",
                f"{r['macs_per_instruction']:.3f}" if r.get("macs") else "-",
                "-" if conv is None else f"{conv:.3f}",
                f"{100 * r['interpreter_overhead']:.3f}%" if "instructions" in r else "-",
                exact_overhead(r),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
