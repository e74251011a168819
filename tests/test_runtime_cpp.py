"""Builds runtime_cpp/tests (the runtime's C++ unit tests, own tiny harness) with ASan/UBSan and
runs them: table view bounds, model view rejecting truncated/corrupted models, planner,
resolver, interpreter plumbing and "arena too small".

The tests link only the runtime core (no kernels/*.cc): they register their own test kernels.
The small ADD model they run is built here with our ModelBuilder; the reference models are
added to the truncation/corruption tests when ../shared/models is present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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
        "InterpreterSpareScratchFillsFreeHeadBytesOnly",
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


def _runtime_sources(*patterns: str) -> list[Path]:
    root = paths.runtime_dir()
    return sorted(p for pattern in patterns for p in root.glob(pattern))


def _tracked_sources() -> list[Path]:
    """C++ files git tracks under runtime_cpp/ (work in progress in a shared tree is not
    checked); empty when this is not a git checkout."""
    root = paths.runtime_dir()
    try:
        proc = subprocess.run(
            ["git", "ls-files", "*.h", "*.cc"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return []
    if proc.returncode != 0:
        return []
    return [root / line for line in proc.stdout.splitlines() if (root / line).is_file()]


def test_runtime_sources_are_clang_formatted() -> None:
    """Google style, 100 columns (runtime_cpp/.clang-format), for every C++ file."""
    clang_format = shutil.which("clang-format") or shutil.which(
        "clang-format", path=str(Path(sys.executable).parent)
    )
    if clang_format is None:
        pytest.skip("clang-format is not installed (pip install clang-format)")
    files = _tracked_sources() or _runtime_sources("**/*.h", "**/*.cc")
    proc = subprocess.run(
        [clang_format, "--dry-run", "--Werror", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


_TARGET_FLAGS = {
    "arm-none-eabi-g++": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "g++": [],
}


@pytest.mark.parametrize("optimization", ["-Os", "-O3"])
@pytest.mark.parametrize("compiler_name", ["arm-none-eabi-g++", "g++"])
def test_core_and_kernels_compile_warning_free(compiler_name: str, optimization: str) -> None:
    """-Werror for the M4 too: there int32_t is long, so printf formats must fit both. -O3 as
    well, because a user may set it in platformio_user.ini and GCC's maybe-uninitialized
    analysis differs by optimization level (it flagged conv_common.h at -O3 once)."""
    compiler = shutil.which(compiler_name)
    if compiler is None:
        pytest.skip(f"{compiler_name} is not installed")
    flags = ["-std=c++17", *_TARGET_FLAGS[compiler_name]]
    flags += [optimization, "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]
    include = f"-I{paths.runtime_dir() / 'src'}"
    sources = _runtime_sources("src/md/*.cc", "src/md/kernels/*.cc")

    def compile_one(source: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
        cmd = [compiler, *flags, include, "-c", str(source), "-o", os.devnull]
        return source, subprocess.run(cmd, capture_output=True, text=True, check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [(s, p) for s, p in pool.map(compile_one, sources) if p.returncode != 0]
    assert not failures, "\n".join(f"{s.name}: {p.stderr[-1500:]}" for s, p in failures)
