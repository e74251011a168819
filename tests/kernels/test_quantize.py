"""QUANTIZE: our kernel against TFLM's for float32 -> int8/int16 and every integer
requantization TFLM supports (int8 -> int8/uint8/int16/int32, uint8 -> int8, int16 ->
int8/int16/int32, int32 -> int8/int16), with random scales and zero points. Outputs must be
bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import INT_RANGES, assert_same_as_tflm, random_ints, random_scale

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder

REQUANTIZATIONS = [
    ("int8", "int8"),
    ("int8", "uint8"),
    ("int8", "int16"),
    ("int8", "int32"),
    ("uint8", "int8"),
    ("int16", "int8"),
    ("int16", "int16"),
    ("int16", "int32"),
    ("int32", "int8"),
    ("int32", "int16"),
]


def _zero_point(rng: np.random.Generator, dtype: str) -> int:
    if dtype == "int16":
        return 0  # TFLite's int16 activations are symmetric
    lo, hi = INT_RANGES[dtype] if dtype != "int32" else (-1000, 1000)
    return int(rng.integers(lo, hi, endpoint=True))


def _shape(rng: np.random.Generator) -> list[int]:
    return [int(v) for v in rng.integers(1, 6, int(rng.integers(1, 5)))]


@pytest.mark.parametrize("in_dtype, out_dtype", REQUANTIZATIONS)
@pytest.mark.parametrize("seed", range(3))
def test_requantization_matches_tflm(in_dtype: str, out_dtype: str, seed: int) -> None:
    rng = np.random.default_rng(7000 + seed)
    shape = _shape(rng)
    in_scale = random_scale(rng, 1e-4, 0.5)
    # Output scale within a factor ~100 of the input's, both ways; seed 0 keeps the scale
    # (the int8 <-> uint8 zero-point shift case).
    out_scale = in_scale if seed == 0 else float(np.float32(in_scale * np.exp(rng.uniform(-4, 4))))
    b = ModelBuilder()
    x = b.add_tensor(shape, in_dtype, scale=in_scale, zero_point=_zero_point(rng, in_dtype))
    y = b.add_tensor(shape, out_dtype, scale=out_scale, zero_point=_zero_point(rng, out_dtype))
    b.add_operator("QUANTIZE", [x], [y])
    b.set_io([x], [y])
    if in_dtype == "int32":
        x_data = rng.integers(-(2**20), 2**20, shape).astype(np.int32)
    else:
        x_data = random_ints(rng, shape, in_dtype)
    label = f"{in_dtype}->{out_dtype} {shape} {in_scale}->{out_scale}"
    assert_same_as_tflm(b.build(), [x_data], label)


@pytest.mark.parametrize("out_dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(6))
def test_float_quantization_matches_tflm(out_dtype: str, seed: int) -> None:
    rng = np.random.default_rng(7100 + seed)
    shape = _shape(rng)
    scale = random_scale(rng, 1e-3, 0.2) if out_dtype == "int8" else random_scale(rng, 1e-5, 1e-3)
    zp = _zero_point(rng, out_dtype)
    b = ModelBuilder()
    x = b.add_tensor(shape, "float32")
    y = b.add_tensor(shape, out_dtype, scale=scale, zero_point=zp)
    b.add_operator("QUANTIZE", [x], [y])
    b.set_io([x], [y])
    # Values around the representable range, plus exact half-steps to exercise rounding.
    span = scale * (128 if out_dtype == "int8" else 32768) * 1.2
    x_data = rng.uniform(-span, span, shape).astype(np.float32)
    halves = ((rng.integers(-100, 100, shape) + 0.5) * scale).astype(np.float32)
    x_data = np.where(rng.integers(0, 2, shape) == 1, halves, x_data).astype(np.float32)
    assert_same_as_tflm(b.build(), [x_data], f"float->{out_dtype} {shape} scale={scale}")


def test_unsupported_pair_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "int32", scale=0.1, zero_point=0)
    y = b.add_tensor([4], "int32", scale=0.2, zero_point=0)
    b.add_operator("QUANTIZE", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="QUANTIZE.*int32 -> int32"):
        host_runtime.run_model(b.build(), [np.zeros([4], np.int32)])
