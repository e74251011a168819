"""The hello_world example: a sine MLP that make_model.py trains with numpy and exports itself."""

from __future__ import annotations

import importlib.util
import sys
import time
from types import ModuleType

import numpy as np
import pytest

from microdeploy import host_runtime, paths, reference
from microdeploy.model.reader import read_model

HELLO = paths.examples_dir() / "hello_world"


def _make_model_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hello_make_model", HELLO / "make_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _quantize_x(model: bytes, x: np.ndarray) -> np.ndarray:
    q = read_model(model).inputs[0].quantization
    values = np.round(x / q.scale[0]) + q.zero_point[0]
    return np.clip(values, -128, 127).astype(np.int8)


def _dequantize_y(model: bytes, y: int) -> float:
    q = read_model(model).outputs[0].quantization
    return (y - q.zero_point[0]) * q.scale[0]


def test_committed_model_is_a_1_16_16_1_int8_mlp() -> None:
    model = read_model(HELLO / "model.tflite")
    assert [op.name for op in model.operators] == ["FULLY_CONNECTED"] * 3
    assert [t.shape for t in model.inputs] == [(1, 1)] and [t.shape for t in model.outputs] == [
        (1, 1)
    ]
    widths = [model.tensors[op.outputs[0]].shape[-1] for op in model.operators]
    assert widths == [16, 16, 1]
    assert all(model.tensors[op.inputs[1]].type.name == "INT8" for op in model.operators)
    assert (HELLO / "input.bin").stat().st_size == 1


def test_make_model_is_deterministic_fast_and_learns_sine() -> None:
    make_model = _make_model_module()
    start = time.monotonic()
    first = make_model.quantize(make_model.train())
    elapsed = time.monotonic() - start
    assert elapsed < 10, f"training + export took {elapsed:.1f} s"
    assert make_model.quantize(make_model.train()) == first
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    xs = np.linspace(0.0, 2 * np.pi, 64)
    errors = [
        abs(_dequantize_y(first, int(reference.tflm_run(first, [_quantize_x(first, x)])[0][0, 0]))
            - np.sin(x))
        for x in xs.reshape(-1, 1, 1)
    ]  # fmt: skip
    # An untrained or badly quantized net is off by ~1 somewhere on the period.
    assert max(errors) < 0.3, f"int8 model's worst error {max(errors):.3f}"


def test_example_input_is_half_pi() -> None:
    model = (HELLO / "model.tflite").read_bytes()
    expected = _quantize_x(model, np.array([[np.pi / 2]]))
    assert (HELLO / "input.bin").read_bytes() == expected.tobytes()


def test_host_runtime_matches_tflm_across_the_input_range() -> None:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    model = (HELLO / "model.tflite").read_bytes()
    for q in range(-128, 128, 17):
        x = np.array([[q]], np.int8)
        ours = host_runtime.run_model(model, [x]).outputs
        want = reference.tflm_run(model, [x])
        assert len(ours) == 1 and ours[0].dtype == want[0].dtype
        assert np.array_equal(ours[0], want[0]), (q, ours, want)
