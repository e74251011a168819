"""MUL against TFLM: random broadcast shapes, quantization parameters and fused activations,
int8 / int16 / float32 / int32, outputs bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import (
    assert_same_as_tflm,
    binary_op_model,
    broadcast_shapes,
    random_ints,
    random_scale,
    random_zero_point,
)

from microdeploy import host_runtime

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(10))
def test_mul_quantized_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(4000 + seed)
    shapes = broadcast_shapes(rng, max_rank=5 if seed % 3 else 6)
    s1 = random_scale(rng, 1e-3, 0.1)
    s2 = random_scale(rng, 1e-3, 0.1)
    typical = 128 if dtype == "int8" else 32768
    # Product range ~ s1*s2*typical^2; the output scale spreads it over the type, often
    # saturating; below s1*s2 the rescale multiplier exceeds 1 (a left shift).
    so = float(np.float32(s1 * s2 * typical * 2.0 ** rng.uniform(-11, 2)))
    quant = [(s, random_zero_point(rng, dtype)) for s in (s1, s2, so)]
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    model = binary_op_model("MUL", shapes, dtype, quant, activation)
    inputs = [random_ints(rng, shapes[0], dtype), random_ints(rng, shapes[1], dtype)]
    assert_same_as_tflm(model, inputs, label=f"{dtype} seed={seed} {shapes} {quant} {activation}")


@pytest.mark.parametrize("seed", range(6))
def test_mul_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(5000 + seed)
    shapes = broadcast_shapes(rng)
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    model = binary_op_model("MUL", shapes, "float32", None, activation)
    inputs = [rng.normal(0, 3, size=s).astype(np.float32) for s in shapes[:2]]
    assert_same_as_tflm(model, inputs, label=f"float seed={seed} {shapes} {activation}")


@pytest.mark.parametrize("seed", range(4))
def test_mul_int32_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(6000 + seed)
    shapes = broadcast_shapes(rng)
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    model = binary_op_model("MUL", shapes, "int32", None, activation)
    # Full-range values: products wrap around, as in TFLM.
    inputs = [random_ints(rng, s, "int32") for s in shapes[:2]]
    assert_same_as_tflm(model, inputs, label=f"int32 seed={seed} {shapes} {activation}")


def test_int16_with_zero_point_is_a_prepare_error() -> None:
    quant = [(0.01, 3), (0.01, 0), (0.01, 0)]
    model = binary_op_model("MUL", ([4], [4], [4]), "int16", quant, "NONE")
    x = [np.zeros([4], np.int16)] * 2
    with pytest.raises(host_runtime.HostRunnerError, match="MUL.*zero points of 0"):
        host_runtime.run_model(model, x)
