"""DEQUANTIZE int8/int16 -> float32: our kernel against TFLM's with random scales and zero
points; the float outputs must be bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_zero_point

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(8))
def test_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(8000 + seed)
    shape = [int(v) for v in rng.integers(1, 6, int(rng.integers(1, 5)))]
    scale = random_scale(rng, 1e-5, 1.0)
    zp = random_zero_point(rng, dtype)
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, scale=scale, zero_point=zp)
    y = b.add_tensor(shape, "float32")
    b.add_operator("DEQUANTIZE", [x], [y])
    b.set_io([x], [y])
    assert_same_as_tflm(b.build(), [random_ints(rng, shape, dtype)], f"{dtype} {shape} {scale}")


def test_float_input_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "float32")
    y = b.add_tensor([4], "float32")
    b.add_operator("DEQUANTIZE", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="DEQUANTIZE.*float32 -> float32"):
        host_runtime.run_model(b.build(), [np.zeros([4], np.float32)])
