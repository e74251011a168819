"""Bench one model (or all of them): host figures always, emulated-board figures on request."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from microdeploy import host_runtime, reference
from microdeploy.bench import codesize, firmware, host, insn_profile
from microdeploy.bench.models import BenchModel, all_models, bench_inputs
from microdeploy.errors import MicrodeployError, ModelError, ToolchainError
from microdeploy.model.analysis import op_macs
from microdeploy.model.reader import Model, read_model
from microdeploy.project import type_variants

Progress = Callable[[str], None]


def _is_conv1x1(model: Model, index: int) -> bool:
    op = model.operators[index]
    if op.name != "CONV_2D" or len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    shape = model.tensors[op.inputs[1]].shape
    return len(shape) == 4 and shape[1] == 1 and shape[2] == 1


def _device_figures(
    model: Model, measured: firmware.DeviceMeasurement, reference_run: firmware.DeviceMeasurement
) -> dict:
    macs = [op_macs(model, op) for op in model.operators]
    reference_ops = {c.op: c.instructions for c in reference_run.ops}
    profile = [
        {
            "op": c.op,
            "name": c.name,
            "instructions": c.instructions,
            "reference_instructions": reference_ops.get(c.op),
            "macs": macs[c.op],
        }
        for c in measured.ops
        if 0 <= c.op < len(macs)
    ]
    figures: dict = {
        "instructions": measured.instructions,
        "macs_per_instruction": sum(macs) / measured.instructions if measured.instructions else 0,
        "reference_instructions": reference_run.instructions,
        "instructions_vs_reference": measured.instructions / reference_run.instructions,
        "interpreter_overhead": measured.interpreter_overhead,
        "profiled_instructions": measured.profiled_instructions,
        "profiled_interpreter_overhead": measured.profiled_interpreter_overhead,
        "op_profile": profile,
    }
    conv1x1 = [p for p in profile if _is_conv1x1(model, p["op"])]
    if conv1x1:
        instructions = sum(p["instructions"] for p in conv1x1)
        figures["conv1x1_macs_per_instruction"] = (
            sum(p["macs"] for p in conv1x1) / instructions if instructions else 0
        )
    size = measured.size
    figures["firmware"] = {
        "flash_bytes": size.flash_bytes,
        "ram_bytes": size.ram_bytes,
        "arena_bytes": size.arena_bytes,
        "model_bytes": size.model_bytes,
        "runtime_bytes": size.runtime_bytes,
        "app_bytes": size.app_bytes,
        "other_bytes": size.other_bytes,
        "flash_without_model": size.flash_without_model,
        "runtime_objects": size.runtime_objects,
    }
    return figures


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y)
        for x, y in zip(a, b, strict=True)
    )


def _preflight(board: str) -> None:
    """Fail before any long work: TFLM missing, or a board that cannot count instructions."""
    if board != "native":
        firmware.counting_board(board)
    if not reference.available():
        raise ToolchainError(
            "bench compares with TFLM's Python interpreter, which is not installed",
            hint="pip install tflite-micro (or: pip install -e '.[bench]')",
        )


def bench_model(
    model: BenchModel,
    board: str = "native",
    batches: int = 11,
    progress: Progress | None = None,
    tiling: str = "auto",
) -> dict:
    """Every figure for one model (see results.py for the keys), our runtime planning with the
    given patch-based execution policy. Raises MicrodeployError."""
    say = progress or (lambda _text: None)
    _preflight(board)
    data = model.path.read_bytes()
    parsed = read_model(data)
    inputs = bench_inputs(parsed)
    say(f"{model.name}: arena")
    arena = host.compare_arena(data, tiling)
    say(f"{model.name}: host latency ({batches} interleaved batches)")
    latency = host.compare_latency(data, inputs, batches=batches, tiling=tiling)
    tflm_outputs = reference.tflm_run(data, inputs)
    ours = host_runtime.run_model(data, inputs, sanitize=False, tiling=tiling).outputs
    result: dict = {
        "model": model.name,
        "path": str(model.path),
        "sha16": hashlib.sha256(data).hexdigest()[:16],
        "board": board,
        "ops": len(parsed.operators),
        "macs": sum(op_macs(parsed, op) for op in parsed.operators),
        "arena_bytes": arena.ours,
        "arena_head": arena.ours_head,
        "arena_tail": arena.ours_tail,
        "tflm_arena_bytes": arena.tflm,
        "tflm_arena_head": arena.tflm_head,
        "tflm_arena_tail": arena.tflm_tail,
        "arena_ratio": arena.ratio,
        "tiling": tiling,
        "stage": None if arena.stage is None else list(arena.stage),
        "latency_us": latency.ours.median_us,
        "tflm_latency_us": latency.tflm.median_us,
        "latency_ratio": latency.ratio,
        "latency": {
            "ours_min_us": latency.ours.min_us,
            "tflm_min_us": latency.tflm.min_us,
            "min_ratio": latency.ours.min_us / latency.tflm.min_us,
            "ours_samples": latency.ours.samples,
            "tflm_samples": latency.tflm.samples,
            "batches": latency.batches,
            "invokes_per_batch": latency.invokes_per_batch,
        },
        "bit_exact": _same(ours, tflm_outputs),
    }
    say(f"{model.name}: runtime code for its op set (x86-64 proxy)")
    try:
        result["x86_64_code_size"] = codesize.compare(
            [op.name for op in parsed.operators], type_variants.compile_out_defines(parsed)
        )
    except MicrodeployError as exc:
        result["x86_64_code_size"] = {"error": exc.message}
    if board != "native":
        say(f"{model.name}: firmware for {board} (init, build, QEMU)")
        measured = firmware.measure_on_board(model.path, board, inputs, tiling=tiling)
        say(f"{model.name}: firmware for {board} with the reference kernels")
        reference_run = firmware.measure_on_board(
            model.path, board, inputs, kernels="reference", tiling=tiling
        )
        result.update(_device_figures(parsed, measured, reference_run))
        result["device_bit_exact"] = _same(measured.outputs, tflm_outputs)
        result["reference_device_bit_exact"] = _same(reference_run.outputs, tflm_outputs)
        say(f"{model.name}: one inference counted instruction by instruction (QEMU plugin)")
        try:
            exact = insn_profile.profile_invoke(model.path, board, inputs, tiling=tiling)
            result["exact_invoke"] = {
                "instructions": exact.instructions,
                "dispatch_instructions": exact.dispatch_instructions,
                "interpreter_overhead": exact.dispatch_instructions / exact.instructions,
                "accessor_instructions": exact.accessor_instructions,
                "library_instructions": exact.library_instructions,
            }
        except MicrodeployError as exc:
            result["exact_invoke"] = {"error": exc.message}
    return result


def bench_all(
    board: str = "native",
    batches: int = 11,
    progress: Progress | None = None,
    models: list[BenchModel] | None = None,
    tiling: str = "auto",
) -> list[dict]:
    """bench_model for every model; a model that fails gets {"model", "path", "board", "error"}."""
    chosen = all_models() if models is None else models
    _preflight(board)
    if not chosen:
        raise ModelError("no models to bench", hint="is ../shared/models present?")
    results = []
    for model in chosen:
        try:
            results.append(bench_model(model, board, batches, progress, tiling))
        except MicrodeployError as exc:
            if progress:
                progress(f"{model.name}: {exc.message}")
            results.append(
                {
                    "model": model.name,
                    "path": str(Path(model.path)),
                    "board": board,
                    "error": exc.message,
                }
            )
    return results
