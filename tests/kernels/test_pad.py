"""PAD against TFLM: random paddings on rank 1-4 tensors, int8 (pad value = output zero point),
int16 / int32 / float32 (pad value 0), outputs bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_shape

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
@pytest.mark.parametrize("seed", range(6))
def test_pad_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(10000 + seed)
    rank = int(rng.integers(1, 5))
    shape = random_shape(rng, rank)
    paddings = rng.integers(0, 4, size=(rank, 2)).astype(np.int32)
    if seed % 3 == 0 and rank == 4:
        paddings[0] = paddings[3] = 0  # TFLM's "image style" case
    out_shape = [d + int(p.sum()) for d, p in zip(shape, paddings, strict=True)]
    scale = random_scale(rng) if dtype in ("int8", "int16") else None
    zp = int(rng.integers(-128, 128)) if dtype == "int8" else (0 if scale else None)
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, scale=scale, zero_point=zp)
    p = b.add_tensor([rank, 2], "int32", data=paddings)
    y = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zp)
    b.add_operator("PAD", [x, p], [y])
    b.set_io([x], [y])
    if dtype == "float32":
        inputs = [rng.normal(size=shape).astype(np.float32)]
    else:
        inputs = [random_ints(rng, shape, dtype)]
    assert_same_as_tflm(b.build(), inputs, label=f"{dtype} seed={seed} {shape} {paddings.tolist()}")


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
def test_pad_with_constant_value_input_matches_tflm(dtype: str) -> None:
    """PAD with the PADV2-style third input: an explicit pad value."""
    rng = np.random.default_rng(10100)
    shape = [2, 3, 4]
    paddings = np.array([[1, 0], [0, 2], [3, 1]], np.int32)
    out_shape = [d + int(p.sum()) for d, p in zip(shape, paddings, strict=True)]
    q = {"scale": 0.05, "zero_point": -9} if dtype == "int8" else {}
    if dtype == "float32":
        value = np.array([2.5], np.float32)
        x_data = rng.normal(size=shape).astype(np.float32)
    else:
        value = np.array([77], dtype)
        x_data = random_ints(rng, shape, dtype)
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, **q)
    p = b.add_tensor([3, 2], "int32", data=paddings)
    v = b.add_tensor([1], dtype, data=value, **q)
    y = b.add_tensor(out_shape, dtype, **q)
    b.add_operator("PAD", [x, p, v], [y])
    b.set_io([x], [y])
    assert_same_as_tflm(b.build(), [x_data], label=f"{dtype} constant value")


def test_paddings_given_at_run_time_are_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2, 2], "float32")
    p = b.add_tensor([2, 2], "int32")  # a model input, not a constant
    y = b.add_tensor([4, 4], "float32")
    b.add_operator("PAD", [x, p], [y])
    b.set_io([x, p], [y])
    inputs = [np.zeros([2, 2], np.float32), np.ones([2, 2], np.int32)]
    with pytest.raises(host_runtime.HostRunnerError, match="PAD.*constant int32"):
        host_runtime.run_model(b.build(), inputs)
