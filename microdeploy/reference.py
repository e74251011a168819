"""TFLM's own Python interpreter (PyPI `tflite-micro`) as the reference we must match bit-exactly.

tflite-micro is an optional (test) dependency: it is imported lazily, and `available()` tells
callers (tests, `microdeploy run`) whether it can be used.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from microdeploy.errors import ModelError, ToolchainError
from microdeploy.model.reader import read_model

_INSTALL_HINT = "install it with: pip install tflite-micro"
# TFLM's own default is 10x the model size, too small for e.g. simple_add_model (needs 200000).
_MIN_ARENA = 2 * 1024 * 1024


@dataclass(frozen=True)
class ArenaFigures:
    """TFLM's recording allocator figures: total = head (planned activations) + tail."""

    total: int
    head: int
    tail: int


def available() -> bool:
    try:
        _runtime()
    except ToolchainError:
        return False
    return True


def _runtime() -> ModuleType:
    try:
        return importlib.import_module("tflite_micro.python.tflite_micro.runtime")
    except ImportError as exc:
        raise ToolchainError(
            f"the TFLM reference interpreter is not installed ({exc})", hint=_INSTALL_HINT
        ) from None


def default_arena_size(model: bytes) -> int:
    return max(10 * len(model), _MIN_ARENA)


def _interpreter(model: bytes, arena_size: int | None) -> object:
    runtime = _runtime()
    try:
        return runtime.Interpreter.from_bytes(
            bytes(model), arena_size=arena_size or default_arena_size(model)
        )
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"TFLM rejected the model: {message}") from None


def tflm_interpreter(model: bytes, arena_size: int | None = None) -> object:
    """A ready TFLM interpreter for callers that drive set_input()/invoke() themselves (bench)."""
    _runtime()
    _io_counts(model)
    return _interpreter(model, arena_size)


def _io_counts(model: bytes) -> tuple[int, int]:
    """Subgraph 0's (inputs, outputs) counts. Reading the model with our bounds-checked reader
    first also keeps corrupt files away from TFLM, which does not check them all."""
    main = read_model(model).main
    return len(main.inputs), len(main.outputs)


def tflm_run(
    model: bytes, inputs: list[np.ndarray], arena_size: int | None = None
) -> list[np.ndarray]:
    """Run one inference with TFLM and return copies of every output tensor."""
    _runtime()
    _io_counts(model)
    interpreter = _interpreter(model, arena_size)
    for index, value in enumerate(inputs):
        details = interpreter.get_input_details(index)  # type: ignore[attr-defined]
        want_shape = tuple(int(d) for d in details["shape"])
        want_dtype = np.dtype(details["dtype"])
        array = np.asarray(value)
        if array.dtype != want_dtype or array.size != int(np.prod(want_shape)):
            raise ModelError(
                f"input {index}: got {array.dtype} {list(array.shape)}, model wants"
                f" {want_dtype} {list(want_shape)}"
            )
        interpreter.set_input(  # type: ignore[attr-defined]
            np.ascontiguousarray(array.reshape(want_shape)), index
        )
    try:
        interpreter.invoke()  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise ModelError(f"TFLM failed to invoke the model: {exc}") from None
    return [
        np.array(interpreter.get_output(i))  # type: ignore[attr-defined]
        for i in range(_io_counts(model)[1])
    ]


# print_allocations() writes from C++ (not through sys.stdout), so it runs in a child process
# whose output we read; that also keeps a TFLM abort from taking the caller down.
_ARENA_SCRIPT = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
it = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
for i in range(int(sys.argv[3])):
    d = it.get_input_details(i)
    it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), i)
it.invoke()
sys.stdout.flush()
it.print_allocations()
"""

_FIGURE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def tflm_arena(model: bytes, arena_size: int | None = None) -> ArenaFigures:
    """TFLM's arena figures for a model (after one inference on zero inputs)."""
    _runtime()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(bytes(model))
        size = arena_size or default_arena_size(model)
        cmd = [sys.executable, "-c", _ARENA_SCRIPT, str(path), str(size)]
        cmd.append(str(_io_counts(model)[0]))
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ)
        )
    figures = dict((name, int(value)) for name, value in _FIGURE.findall(proc.stdout + proc.stderr))
    if proc.returncode != 0 or set(figures) != {"total", "head", "tail"}:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"TFLM could not report its arena for this model: {last}")
    return ArenaFigures(figures["total"], figures["head"], figures["tail"])
