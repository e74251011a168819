"""Kernel type variants (runtime_cpp/src/md/kernels/type_variants.h): generated projects compile
out the float32 / int16 kernel paths their model does not use.

- the generator's choice (microdeploy/project/type_variants.py): which defines a model gets, and
  that its list of kernels honouring them matches the sources;
- the defines really remove code: the float/int16 functions leave the compiled objects and the
  objects shrink;
- a runner built with a model's own defines still runs it bit-exactly like TFLM, and a model
  needing a compiled-out type fails at prepare naming the type and the define (never runs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, paths, reference
from microdeploy.device.inputs import load_input
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.project.generate import init_project
from microdeploy.project.type_variants import TYPE_VARIANT_KERNELS, compile_out_defines

KERNELS = paths.runtime_dir() / "src" / "md" / "kernels"
BOTH = ["-DMD_KERNELS_NO_FLOAT32", "-DMD_KERNELS_NO_INT16"]


def _model(shared_models: Path, rel: str) -> Path:
    path = shared_models / rel
    if not path.is_file():
        pytest.skip(f"{rel} is absent")
    return path


def test_kernel_list_matches_the_sources() -> None:
    """The kernels whose sources include type_variants.h (directly or via a kernel header) are
    exactly those the generator considers, so no model loses a type a kernel it uses needs."""
    honouring_headers = {
        f"md/kernels/{h.name}"
        for h in KERNELS.glob("*.h")
        if h.name == "type_variants.h" or '#include "md/kernels/type_variants.h"' in h.read_text()
    }
    honouring = set()
    for source in KERNELS.glob("*.cc"):
        includes = set(re.findall(r'#include "([^"]+)"', source.read_text()))
        if includes & honouring_headers:
            honouring.add(source.stem.upper())
    assert honouring == set(TYPE_VARIANT_KERNELS)


def test_defines_follow_the_model_types(shared_models: Path) -> None:
    # All-int8 models lose both; a float32 model keeps float32; an int16 model keeps int16.
    assert compile_out_defines(read_model(_model(shared_models, "tflm/person_detect.tflite"))) == (
        BOTH
    )
    float_model = read_model(_model(shared_models, "tflm/hello_world_float.tflite"))
    assert "-DMD_KERNELS_NO_FLOAT32" not in compile_out_defines(float_model)
    int16_model = read_model(_model(shared_models, "tflm/keyword_scrambled.tflite"))
    assert "-DMD_KERNELS_NO_INT16" not in compile_out_defines(int16_model)


def test_init_puts_the_defines_in_the_build_flags(tmp_path: Path, shared_models: Path) -> None:
    """They must reach the vendored runtime library, so they go in build_flags (not only in
    src/md_config.h); the person-detection firmware tests build exactly this."""
    model = _model(shared_models, "tflm/person_detect.tflite")
    init_project(tmp_path / "p", "mps2-an386", model=model)
    ini = (tmp_path / "p" / "platformio.ini").read_text()
    flags = ini.split("build_flags = ", 1)[1].splitlines()[0].split()
    assert set(BOTH) <= set(flags)


# Functions that exist only for a compiled-out type (MD_NO_FP_CONTRACT keeps the float ones out
# of line, so a default build has them as symbols).
_VARIANT_SYMBOLS = {
    "conv_2d": ["ConvFloat("],
    "depthwise_conv_2d": ["DepthwiseFloat("],
    "fully_connected": ["FcFloat(", "FcChunk<short,"],
}


def _compile(compiler: str, source: Path, out: Path, defines: list[str]) -> Path:
    cmd = [compiler, "-std=c++17", "-O2", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra"]
    cmd += ["-Werror", f"-I{paths.runtime_dir() / 'src'}", *defines, "-c", str(source)]
    subprocess.run([*cmd, "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def _text_bytes(obj: Path) -> int:
    out = subprocess.run(["size", str(obj)], check=True, capture_output=True, text=True).stdout
    return int(out.splitlines()[1].split()[0])


@pytest.mark.parametrize(
    "kernel",
    ["conv_2d", "depthwise_conv_2d", "fully_connected", "average_pool_2d", "softmax"],
)
def test_defines_remove_code(tmp_path: Path, kernel: str) -> None:
    compiler = shutil.which("g++")
    if compiler is None or shutil.which("nm") is None or shutil.which("size") is None:
        pytest.skip("g++/binutils are not installed")
    source = KERNELS / f"{kernel}.cc"
    full = _compile(compiler, source, tmp_path / "full.o", [])
    int8 = _compile(compiler, source, tmp_path / "int8.o", BOTH)
    assert _text_bytes(int8) < _text_bytes(full)
    for obj, present in ((full, True), (int8, False)):
        names = subprocess.run(
            ["nm", "-C", str(obj)], check=True, capture_output=True, text=True
        ).stdout
        for symbol in _VARIANT_SYMBOLS.get(kernel, []):
            assert (symbol in names) is present, (obj.name, symbol)


def _needs_tflm() -> None:
    if not reference.available():
        pytest.skip("TFLM's Python interpreter (tflite-micro) is not installed")


def test_person_detect_bit_exact_with_its_defines(shared_models: Path) -> None:
    _needs_tflm()
    model = _model(shared_models, "tflm/person_detect.tflite")
    defines = compile_out_defines(read_model(model))
    assert defines == BOTH
    for image in ("person.bmp", "no_person.bmp"):
        pixels = load_input(shared_models / "images" / image, "int8", (1, 96, 96, 1))
        ours = host_runtime.run_model(model, [pixels], sanitize=False, defines=defines).outputs
        want = reference.tflm_run(model.read_bytes(), [pixels])
        assert len(ours) == len(want)
        for got, expected in zip(ours, want, strict=True):
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got.reshape(expected.shape), expected)


@pytest.mark.parametrize(
    ("rel", "define", "type_name", "dtype", "shape"),
    [
        ("tflm/hello_world_float.tflite", "MD_KERNELS_NO_FLOAT32", "float32", np.float32, (1, 1)),
        ("tflm/keyword_scrambled.tflite", "MD_KERNELS_NO_INT16", "int16", np.int16, (1, 96)),
    ],
)
def test_compiled_out_type_fails_at_prepare(
    shared_models: Path, rel: str, define: str, type_name: str, dtype: type, shape: tuple
) -> None:
    model = _model(shared_models, rel)
    with pytest.raises(host_runtime.HostRunnerError) as failure:
        host_runtime.run_model(model, [np.zeros(shape, dtype)], sanitize=False, defines=BOTH)
    assert failure.value.kind == "UnsupportedType"
    assert define in str(failure.value) and type_name in str(failure.value)


def test_float_io_around_int8_ops_keeps_its_defines_and_runs_bit_exact() -> None:
    """QUANTIZE/DEQUANTIZE take float32 but have no compiled-out variant: a float-in/float-out
    model whose FULLY_CONNECTED is int8 still gets both defines, and runs like TFLM with them."""
    _needs_tflm()
    rng = np.random.default_rng(7)
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "float32")
    xq = b.add_tensor([1, 8], "int8", scale=0.05, zero_point=3)
    weights = rng.integers(-127, 128, (4, 8)).astype(np.int8)
    w = b.add_tensor([4, 8], "int8", data=weights, scale=0.02, zero_point=0)
    bias = b.add_tensor([4], "int32", data=rng.integers(-500, 500, 4).astype(np.int32), scale=0.001)
    yq = b.add_tensor([1, 4], "int8", scale=0.1, zero_point=-5)
    y = b.add_tensor([1, 4], "float32")
    b.add_operator("QUANTIZE", [x], [xq])
    b.add_operator("FULLY_CONNECTED", [xq, w, bias], [yq])
    b.add_operator("DEQUANTIZE", [yq], [y])
    b.set_io([x], [y])
    model = b.build()
    defines = compile_out_defines(read_model(model))
    assert defines == BOTH
    data = rng.normal(0, 2, (1, 8)).astype(np.float32)
    (ours,) = host_runtime.run_model(model, [data], sanitize=False, defines=defines).outputs
    (want,) = reference.tflm_run(model, [data])
    np.testing.assert_array_equal(ours.reshape(want.shape), want)
