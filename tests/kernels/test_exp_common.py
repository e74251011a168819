"""md::ExpFloat (kernels/exp_common.h), the expf our float kernels use on targets without
glibc, must round exactly like glibc's generic expf, which the TFLM we compare with calls.
The check compiles a small program and compares the two over a sample of every float in
[-104, 89] (the whole range was checked once: 0 mismatches of 2.2e9)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import paths

HERE = Path(__file__).resolve().parent
STRIDE = 13  # ~1.7e8 floats, about a second


def _glibc_with_new_expf() -> bool:
    name, version = platform.libc_ver()
    if name != "glibc" or not version:
        return False
    major, minor = (int(v) for v in version.split(".")[:2])
    return (major, minor) >= (2, 28)


@pytest.mark.skipif(not _glibc_with_new_expf(), reason="needs glibc >= 2.28 (its expf)")
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_exp_float_equals_glibc_generic_expf(tmp_path: Path) -> None:
    binary = tmp_path / "exp_common_check"
    include = paths.runtime_dir() / "src"
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{include}",
            str(HERE / "exp_common_check.cc"),
            "-o",
            str(binary),
        ],
        check=True,
    )
    # glibc picks an FMA-compiled expf on CPUs with FMA (it rounds 2 of 2.2e9 inputs
    # differently); the generic one is what ExpFloat reproduces and what targets compare with.
    env = dict(os.environ, GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX2,-FMA")
    proc = subprocess.run(
        [str(binary), str(STRIDE)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mismatches 0" in proc.stdout
