"""The MLPerf device prints scores with `%0.3f` without printf (md/app_mlperf/text.cc): its
FormatFixed3 must give glibc's printf text for every float, and the Python side
(benchmarks.format_fixed3, used to predict the device's results line) must agree with both.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths
from microdeploy.mlperf.benchmarks import format_fixed3

_PROGRAM = r"""
#include <cstdio>
#include <cstring>
#include "md/app_mlperf/text.h"
int main() {
  unsigned int bits;
  while (std::scanf("%x", &bits) == 1) {
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    char ours[64];
    const size_t n = md::mlperf::FormatFixed3(v, ours);
    ours[n] = '\0';
    std::printf("%s %0.3f\n", ours, static_cast<double>(v));
  }
  return 0;
}
"""


def _special_floats() -> list[float]:
    values = [0.0, -0.0, 1.0, -1.0, 0.0005, 0.0015, 0.0625, 0.1875, 2.5e-4, -2.5e-4, 1e-4, -1e-4]
    values += [0.9995, 1.0005, 123.4565, 1e10, 3.4e38, -3.4e38, 1e-40, float("inf")]
    values += [float("-inf"), float("nan"), -float("nan")]
    values += [0.00390625 * k for k in range(-128, 128)]  # every int8 score of a 1/256 scale
    return values


def test_format_fixed3_matches_glibc_printf(tmp_path: Path) -> None:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    src = paths.runtime_dir() / "src"
    main = tmp_path / "main.cc"
    main.write_text(_PROGRAM)
    program = tmp_path / "fmt"
    sources = [main, src / "md" / "app_mlperf" / "text.cc", src / "md/ports/native/port.cc"]
    flags = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{src}"]
    subprocess.run([compiler, *flags, *map(str, sources), "-o", str(program)], check=True)
    rng = np.random.default_rng(5)
    floats = np.array(_special_floats(), dtype=np.float32)
    # Random bit patterns (every exponent) and values near ties of the third decimal.
    random_bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    near_ties = ((rng.integers(-5000000, 5000000, 20000) + 0.5) / 1000).astype(np.float32)
    all_bits = np.concatenate([floats.view(np.uint32), random_bits, near_ties.view(np.uint32)])
    text = "\n".join(f"{int(b):x}" for b in all_bits) + "\n"
    out = subprocess.run([str(program)], input=text, capture_output=True, text=True, check=True)
    rows = out.stdout.splitlines()
    assert len(rows) == len(all_bits)
    for bits, row in zip(all_bits, rows, strict=True):
        ours, libc = row.split(" ")
        assert ours == libc, (hex(int(bits)), ours, libc)
        value = struct.unpack("<f", struct.pack("<I", int(bits)))[0]
        assert format_fixed3(value) == libc, (hex(int(bits)), libc)
