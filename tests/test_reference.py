"""The TFLM reference wrapper: same outputs as driving TFLM's interpreter by hand, arena figures
as TFLM prints them, clear errors when inputs or the package are wrong."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths, reference
from microdeploy.errors import ModelError, ToolchainError
from microdeploy.model.writer import ModelBuilder

runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


def _models_dir() -> Path:
    d = paths.shared_models_dir()
    if not d.is_dir():
        pytest.skip(f"reference models folder {d} is absent")
    return d


def _add_model() -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 16], "int8", scale=0.1, zero_point=2)
    y = b.add_tensor([1, 16], "int8", scale=0.05, zero_point=-1)
    z = b.add_tensor([1, 16], "int8", scale=0.2, zero_point=0)
    w = b.add_tensor([1, 16], "int8", scale=0.2, zero_point=0)
    b.add_operator("ADD", [x, y], [z])
    b.add_operator("ADD", [z, x], [w])
    b.set_io([x, y], [w, z])
    return b.build()


def test_available_when_installed() -> None:
    assert reference.available()


def test_outputs_equal_driving_tflm_directly_for_two_inputs_two_outputs() -> None:
    model = _add_model()
    rng = np.random.default_rng(0)
    xs = [rng.integers(-128, 128, (1, 16), dtype=np.int8) for _ in range(2)]
    interpreter = runtime.Interpreter.from_bytes(model)
    for i, x in enumerate(xs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    expected = [interpreter.get_output(0).copy(), interpreter.get_output(1).copy()]
    got = reference.tflm_run(model, xs)
    assert len(got) == 2
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


def test_person_detect_matches_direct_tflm_on_the_shared_input() -> None:
    models = _models_dir()
    model = (models / "tflm/person_detect.tflite").read_bytes()
    x = np.load(models / "inputs/person_96x96x1_int8.npy")
    interpreter = runtime.Interpreter.from_bytes(model)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    np.testing.assert_array_equal(reference.tflm_run(model, [x])[0], interpreter.get_output(0))


def _anchor_figures() -> dict[str, tuple[int, int, int]]:
    anchors = paths.shared_models_dir().parent / "anchors.md"
    if not anchors.is_file():
        pytest.skip("../shared/anchors.md is absent")
    rows = re.findall(
        r"^\| ([\w/]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", anchors.read_text(), re.M
    )
    return {name: tuple(int(v.replace(",", "")) for v in vals) for name, *vals in rows}


@pytest.mark.parametrize("name", ["tflm/person_detect", "tflm/hello_world_int8"])
def test_arena_figures_agree_with_the_measured_anchors(name: str) -> None:
    models = _models_dir()
    figures = _anchor_figures()
    got = reference.tflm_arena((models / f"{name}.tflite").read_bytes())
    assert (got.total, got.head, got.tail) == figures[name]
    assert got.total == got.head + got.tail


def test_simple_add_model_runs_with_its_documented_arena() -> None:
    model = (_models_dir() / "tflm/simple_add_model.tflite").read_bytes()
    a = np.full((1, 128, 128, 1), 3, np.int8)
    out = reference.tflm_run(model, [a, a], arena_size=200000)
    assert out[0].shape == (1, 128, 128, 1)
    figures = reference.tflm_arena(model, arena_size=200000)
    assert figures.head > 0


def test_wrong_input_type_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="input 0: got float32"):
        reference.tflm_run(_add_model(), [np.zeros((1, 16), np.float32)] * 2)


def test_garbage_model_is_a_model_error_in_the_arena_report() -> None:
    with pytest.raises(ModelError):
        reference.tflm_arena(_add_model()[:100])


def test_missing_package_names_the_pip_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, *args: object) -> object:
        if name.startswith("tflite_micro"):
            raise ImportError("No module named 'tflite_micro'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    assert not reference.available()
    with pytest.raises(ToolchainError) as info:
        reference.tflm_run(b"", [])
    assert "pip install tflite-micro" in info.value.hint
