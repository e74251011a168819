"""TANH against TFLM: int8 over many input scales and zero points (every int8 value),
int16 with power-of-two and general input scales (every int16 value), float32."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_scale

from microdeploy import host_runtime, paths
from microdeploy.model.writer import ModelBuilder


def _unary_model(op: str, shape: list[int], dtype: str, in_q: tuple, out_q: tuple) -> bytes:
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, scale=in_q[0], zero_point=in_q[1])
    y = b.add_tensor(shape, dtype, scale=out_q[0], zero_point=out_q[1])
    b.add_operator(op, [x], [y])
    b.set_io([x], [y])
    return b.build()


ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(2, 8, 16)
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16).reshape(4, 16384)


@pytest.mark.parametrize("seed", range(8))
def test_tanh_int8_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(8000 + seed)
    # Scales from tiny (nothing saturates) to large (most inputs saturate).
    scale = random_scale(rng, 1e-3, 0.5)
    zero_point = int(rng.integers(-128, 128))
    model = _unary_model("TANH", [2, 8, 16], "int8", (scale, zero_point), (1 / 128, 0))
    assert_same_as_tflm(model, [ALL_INT8], label=f"scale={scale} zp={zero_point}")


@pytest.mark.parametrize(
    "scale", [2.0**-12, 2.0**-11, 2.0**-10, 1 / 3000.0, 1 / 4096.0 * 1.7, 0.01, 1e-5]
)
def test_tanh_int16_matches_tflm(scale: float) -> None:
    model = _unary_model("TANH", [4, 16384], "int16", (scale, 0), (2.0**-15, 0))
    assert_same_as_tflm(model, [ALL_INT16], label=f"scale={scale}")


def test_tanh_float_matches_tflm() -> None:
    rng = np.random.default_rng(8100)
    x = np.concatenate(
        [rng.normal(0, 6, 500), [-20.0, -9.0, -8.99, 0.0, 16.6, 16.62, 30.0]]
    ).astype(np.float32)
    model = _unary_model("TANH", [x.size], "float32", (None, None), (None, None))
    assert_same_as_tflm(model, [x], label="float")


def test_int16_output_scale_other_than_2_pow_minus_15_is_a_prepare_error() -> None:
    model = _unary_model("TANH", [4], "int16", (2.0**-12, 0), (2.0**-14, 0))
    with pytest.raises(host_runtime.HostRunnerError, match=r"TANH.*scale must be 2\^-15"):
        host_runtime.run_model(model, [np.zeros([4], np.int16)])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="compares with glibc's tanhf")
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_tanh_float_port_equals_glibc_tanhf(tmp_path: Path) -> None:
    """Targets without glibc use md::TanhFloat for float TANH (and LSTM/SVDF tanh): it must
    round like glibc's tanhf, which TFLM calls. A sample of every float bit pattern is checked
    (the whole 2^32 once: 0 mismatches)."""
    binary = tmp_path / "tanh_float_check"
    include = paths.runtime_dir() / "src"
    source = Path(__file__).resolve().parent / "tanh_float_check.cc"
    cmd = ["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{include}"]
    subprocess.run([*cmd, str(source), "-o", str(binary)], check=True)
    proc = subprocess.run([str(binary), "61"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mismatches 0" in proc.stdout
