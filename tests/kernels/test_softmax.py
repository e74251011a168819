"""SOFTMAX: our kernel against TFLM's: int8 -> int8, int8 -> int16 (fixed-point exp and
reciprocal), int16 -> int16 (TFLM's interpolated lookup tables) and float32, over random
shapes, input scales and betas. Outputs must be bit-identical. Plus TFLM's output-quantization
contract enforced in prepare with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_zero_point

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder

# Output quantization TFLite requires per (input, output) type.
OUTPUT_QUANT = {
    ("int8", "int8"): (1.0 / 256, -128),
    ("int8", "int16"): (1.0 / 65536, -32768),
    ("int16", "int16"): (1.0 / 32768, 0),
}


def _shape(rng: np.random.Generator) -> list[int]:
    depth = int(rng.choice([1, 2, 3, 10, 12, 33, 64]))
    lead = [int(v) for v in rng.integers(1, 4, int(rng.integers(0, 3)))]
    return [*lead, depth]


def _softmax_model(
    in_dtype: str, out_dtype: str, shape: list[int], input_scale: float, beta: float, zp: int
) -> bytes:
    out_scale, out_zp = OUTPUT_QUANT[(in_dtype, out_dtype)]
    b = ModelBuilder()
    x = b.add_tensor(shape, in_dtype, scale=input_scale, zero_point=zp)
    y = b.add_tensor(shape, out_dtype, scale=out_scale, zero_point=out_zp)
    b.add_operator("SOFTMAX", [x], [y], {"beta": beta})
    b.set_io([x], [y])
    return b.build()


@pytest.mark.parametrize(
    "in_dtype, out_dtype", [("int8", "int8"), ("int8", "int16"), ("int16", "int16")]
)
@pytest.mark.parametrize("seed", range(12))
def test_quantized_matches_tflm(in_dtype: str, out_dtype: str, seed: int) -> None:
    rng = np.random.default_rng(6000 + seed)
    shape = _shape(rng)
    if in_dtype == "int8":
        input_scale = random_scale(rng, 0.01, 0.5)  # large scales push diffs below diff_min
    else:
        input_scale = random_scale(rng, 1e-4, 2e-3)
    beta = float(rng.choice([1.0, 1.0, 0.5, 2.0, 0.7]))
    zp = random_zero_point(rng, in_dtype)
    model = _softmax_model(in_dtype, out_dtype, shape, input_scale, beta, zp)
    x = random_ints(rng, shape, in_dtype)
    label = f"{in_dtype}->{out_dtype} {shape} scale={input_scale} beta={beta}"
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("seed", range(8))
def test_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(6100 + seed)
    shape = _shape(rng)
    beta = float(rng.choice([1.0, 0.5, 2.0]))
    b = ModelBuilder()
    x = b.add_tensor(shape, "float32")
    y = b.add_tensor(shape, "float32")
    b.add_operator("SOFTMAX", [x], [y], {"beta": beta})
    b.set_io([x], [y])
    x_data = rng.normal(0, 3, shape).astype(np.float32)
    assert_same_as_tflm(b.build(), [x_data], f"float {shape} beta={beta}")


def test_int8_output_with_wrong_quantization_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor([1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="SOFTMAX.*scale 1/256"):
        host_runtime.run_model(b.build(), [np.zeros([1, 4], np.int8)])
