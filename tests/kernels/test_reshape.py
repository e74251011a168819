"""RESHAPE: our kernel against TFLM's with the new shape given as a constant shape tensor, as
the new_shape option, or both, with and without a -1 dimension, for several element types; and
a clear prepare error when the element counts disagree."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder

DTYPES = ("int8", "int16", "int32", "float32")


def _random_factorization(rng: np.random.Generator, count: int) -> list[int]:
    """A random shape of 1..4 dimensions whose product is `count`."""
    dims: list[int] = []
    rest = count
    for _ in range(int(rng.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = int(rng.choice(divisors))
        dims.append(d)
        rest //= d
    dims.append(rest)
    rng.shuffle(dims)
    return dims


@pytest.mark.parametrize("seed", range(16))
def test_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(5000 + seed)
    dtype = DTYPES[seed % len(DTYPES)]
    count = int(rng.choice([1, 6, 12, 24, 60, 96]))
    in_shape = _random_factorization(rng, count)
    out_shape = _random_factorization(rng, count)
    requested = list(out_shape)
    if rng.integers(0, 2):
        requested[int(rng.integers(0, len(requested)))] = -1
    mode = ("tensor", "option", "both")[seed % 3]

    b = ModelBuilder()
    quant = {"scale": 0.05, "zero_point": 3} if dtype in ("int8", "int16") else {}
    x = b.add_tensor(in_shape, dtype, **quant)
    y = b.add_tensor(out_shape, dtype, **quant)
    inputs = [x]
    if mode in ("tensor", "both"):
        inputs.append(b.add_tensor([len(requested)], "int32", data=np.array(requested, np.int32)))
    options = {"new_shape": requested} if mode in ("option", "both") else None
    b.add_operator("RESHAPE", inputs, [y], options)
    b.set_io([x], [y])
    if dtype == "float32":
        x_data = rng.normal(0, 1, in_shape).astype(np.float32)
    else:
        x_data = random_ints(rng, in_shape, dtype)
    assert_same_as_tflm(b.build(), [x_data], f"{dtype} {in_shape} -> {requested} ({mode})")


def test_element_count_mismatch_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2, 3], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor([4, 2], "int8", scale=0.1, zero_point=0)
    b.add_operator("RESHAPE", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="RESHAPE.*6 elements, output 8"):
        host_runtime.run_model(b.build(), [np.zeros([2, 3], np.int8)])


def test_requested_shape_disagreeing_with_output_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2, 3], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor([3, 2], "int8", scale=0.1, zero_point=0)
    shape = b.add_tensor([2], "int32", data=np.array([6, 1], np.int32))
    b.add_operator("RESHAPE", [x, shape], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="RESHAPE.*disagrees"):
        host_runtime.run_model(b.build(), [np.zeros([2, 3], np.int8)])
