"""Builds runtime_cpp/tests (the runtime's C++ unit tests, own tiny harness) with ASan/UBSan and
runs them: table view bounds, model view rejecting truncated/corrupted models, planner,
resolver, interpreter plumbing and "arena too small".

The tests link only the runtime core (no kernels/*.cc): they register their own test kernels.
The small ADD model they run is built here with our ModelBuilder; the reference models are
added to the truncation/corruption tests when ../shared/models is present.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, paths
from microdeploy.model.writer import ModelBuilder

# Reference models fed to the fuzz tests: a large conv net, a tiny one, an int16/SVDF one.
_FUZZ_MODELS = (
    "tflm/person_detect.tflite",
    "tflm/hello_world_int8.tflite",
    "tflm/keyword_scrambled.tflite",
    "tflm/trained_lstm_int8.tflite",
)


def _add_model() -> bytes:
    """The model test_interpreter.cc describes: three ADDs, a constant and a variable."""
    b = ModelBuilder()
    n = 256  # large enough that the planned head outweighs the planner's work arrays
    constant = (np.arange(n) % 100 + 1).astype(np.int8)
    x = b.add_tensor([1, n], "int8", scale=0.5, zero_point=0, name="x")
    c = b.add_tensor([1, n], "int8", data=constant, scale=0.5, zero_point=0, name="c")
    v = b.add_tensor([1, n], "int8", scale=0.5, zero_point=3, name="v", is_variable=True)
    t1 = b.add_tensor([1, n], "int8", scale=0.5, zero_point=0, name="t1")
    out = b.add_tensor([1, n], "int8", scale=0.5, zero_point=0, name="out")
    out2 = b.add_tensor([1, n], "int8", scale=0.5, zero_point=0, name="out2")
    b.add_operator("ADD", [x, x], [t1])
    b.add_operator("ADD", [t1, c], [out])
    b.add_operator("ADD", [v, c], [out2])
    b.set_io([x], [out, out2])
    return b.build()


def _test_sources() -> list[Path]:
    runtime = paths.runtime_dir()
    core = sorted((runtime / "src" / "md").glob("*.cc"))
    tests = sorted((runtime / "tests").glob("*.cc"))
    return [*core, runtime / "src" / "md" / "ports" / "native" / "port.cc", *tests]


@pytest.fixture(scope="module")
def md_tests_binary() -> Path:
    headers = sorted((paths.runtime_dir() / "tests").glob("*.h"))
    return host_runtime.build_executable("md_tests", _test_sources(), extra_headers=headers)


def _run(binary: Path, models: list[Path], filter_: str | None = None) -> str:
    args = [str(binary), *(["--filter", filter_] if filter_ else []), *map(str, models)]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=900,
        env={"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " 0 failed checks" in proc.stdout, proc.stdout[-4000:]
    return proc.stdout


def test_cpp_unit_tests_with_add_model(md_tests_binary: Path, tmp_path: Path) -> None:
    model = tmp_path / "add.tflite"
    model.write_bytes(_add_model())
    out = _run(md_tests_binary, [model])
    for name in (
        "TableViewRejectsHostileTables",
        "ModelViewRejectsTruncatedModels",
        "ModelViewSurvivesCorruptedModels",
        "PlannerRandomGraphs",
        "ResolverAddAndFind",
        "InterpreterArenaTooSmallNamesExactNeed",
    ):
        assert f"ok   {name}" in out


@pytest.mark.slow
def test_cpp_model_view_fuzz_on_reference_models(
    md_tests_binary: Path, shared_models: Path, tmp_path: Path
) -> None:
    model = tmp_path / "add.tflite"
    model.write_bytes(_add_model())
    references = [shared_models / name for name in _FUZZ_MODELS if (shared_models / name).is_file()]
    assert references, f"none of {_FUZZ_MODELS} in {shared_models}"
    out = _run(md_tests_binary, [model, *references], filter_="ModelView")
    assert "ok   ModelViewSurvivesCorruptedModels" in out
