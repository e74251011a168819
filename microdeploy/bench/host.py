"""Arena bytes and host latency, ours vs TFLM's Python interpreter, measured side by side.

Arena: ours is the runtime's own plan (host runner: planned head + persistent tail, as
`inspect` and `init` report it); TFLM's is the total of its recording allocator
(`reference.tflm_arena`, after one invoke).

Latency: per-invoke wall time, interleaved. Each batch runs our -O2 (unsanitized) host runner
with `--repeat N` (its `invoke_us`: the runner's own clock around `Interpreter::Invoke()` only,
inputs copied in before each invoke outside the timed region; the first invoke of every batch
is a warm-up and dropped), then N invokes of TFLM's interpreter in this process, timed with
perf_counter_ns around `invoke()` only (set_input before each, untimed; warm-up invokes first).
Batches alternate which side goes first. The figure per side is the median of all its samples;
latency_ratio = ours / TFLM's. TFLM's figure includes its Python binding's call overhead (well
under a microsecond), which only matters for models that take a few microseconds.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from microdeploy import host_runtime, reference
from microdeploy.errors import ModelError

_WARMUP = 3


@dataclass(frozen=True)
class ArenaComparison:
    ours: int
    ours_head: int
    ours_tail: int
    tflm: int
    tflm_head: int
    tflm_tail: int
    stage: tuple[int, int] | None = None  # the patch-based stage our plan streams

    @property
    def ratio(self) -> float:
        return self.ours / self.tflm


@dataclass(frozen=True)
class LatencySide:
    median_us: float
    min_us: float
    samples: int


@dataclass(frozen=True)
class LatencyComparison:
    ours: LatencySide
    tflm: LatencySide
    batches: int
    invokes_per_batch: int

    @property
    def ratio(self) -> float:
        return self.ours.median_us / self.tflm.median_us


def compare_arena(model: bytes, tiling: str = "auto") -> ArenaComparison:
    plan = host_runtime.plan_model(model, sanitize=False, tiling=tiling)
    tflm = reference.tflm_arena(model)
    return ArenaComparison(
        plan.arena_bytes, plan.head, plan.tail, tflm.total, tflm.head, tflm.tail, plan.stage
    )


class _TflmTimer:
    """TFLM's interpreter in this process, timed around invoke() only."""

    def __init__(self, model: bytes, inputs: Sequence[np.ndarray]) -> None:
        self.interpreter = reference.tflm_interpreter(model)
        self.inputs = []
        for index, array in enumerate(inputs):
            shape = tuple(int(d) for d in self.interpreter.get_input_details(index)["shape"])
            self.inputs.append(np.ascontiguousarray(np.asarray(array).reshape(shape)))

    def batch(self, n: int) -> list[float]:
        interpreter = self.interpreter
        times = []
        enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(n):
                for index, array in enumerate(self.inputs):
                    interpreter.set_input(array, index)
                start = time.perf_counter_ns()
                interpreter.invoke()
                times.append((time.perf_counter_ns() - start) / 1000.0)
        except RuntimeError as exc:
            raise ModelError(f"TFLM failed to invoke the model: {exc}") from None
        finally:
            if enabled:
                gc.enable()
        return times


def _ours_batch(model: bytes, inputs: Sequence[np.ndarray], n: int, tiling: str) -> list[float]:
    result = host_runtime.run_model(model, inputs, repeat=n + 1, sanitize=False, tiling=tiling)
    return result.invoke_us[1:]  # the first invoke after the process starts runs cold


def compare_latency(
    model: bytes,
    inputs: Sequence[np.ndarray],
    batches: int = 11,
    batch_seconds: float = 0.1,
    max_invokes: int = 2000,
    tiling: str = "auto",
) -> LatencyComparison:
    """Interleaved batches of ours and TFLM's invokes; each batch lasts about `batch_seconds`
    on the slower side (at least 5 invokes, at most `max_invokes`)."""
    if batches < 1:
        raise ValueError("batches must be at least 1")
    tflm = _TflmTimer(model, inputs)
    probe_tflm = tflm.batch(_WARMUP)
    probe_ours = _ours_batch(model, inputs, _WARMUP, tiling)
    slower_us = max(statistics.median(probe_tflm), statistics.median(probe_ours), 0.1)
    per_batch = int(min(max_invokes, max(5, batch_seconds * 1e6 / slower_us)))
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(batches):
        if index % 2 == 0:
            ours += _ours_batch(model, inputs, per_batch, tiling)
            theirs += tflm.batch(per_batch)
        else:
            theirs += tflm.batch(per_batch)
            ours += _ours_batch(model, inputs, per_batch, tiling)
    return LatencyComparison(_side(ours), _side(theirs), batches, per_batch)


def _side(samples: list[float]) -> LatencySide:
    return LatencySide(statistics.median(samples), min(samples), len(samples))
