"""ADD against TFLM: random broadcast shapes, quantization parameters and fused activations,
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
from microdeploy.model.writer import ModelBuilder

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(12))
def test_add_quantized_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    shapes = broadcast_shapes(rng, max_rank=5 if seed % 3 else 6)
    s1 = random_scale(rng, 1e-3, 0.1)
    s2 = s1 if seed % 4 == 0 else random_scale(rng, 1e-3, 0.1)
    # Output scale around the sum's range, sometimes much smaller so results saturate.
    so = float(np.float32((s1 + s2) * rng.uniform(0.2, 2.0)))
    quant = [(s, random_zero_point(rng, dtype)) for s in (s1, s2, so)]
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    model = binary_op_model("ADD", shapes, dtype, quant, activation)
    inputs = [random_ints(rng, shapes[0], dtype), random_ints(rng, shapes[1], dtype)]
    assert_same_as_tflm(model, inputs, label=f"{dtype} seed={seed} {shapes} {quant} {activation}")


@pytest.mark.parametrize("seed", range(6))
def test_add_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    shapes = broadcast_shapes(rng)
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    model = binary_op_model("ADD", shapes, "float32", None, activation)
    inputs = [rng.normal(0, 4, size=s).astype(np.float32) for s in shapes[:2]]
    assert_same_as_tflm(model, inputs, label=f"float seed={seed} {shapes} {activation}")


@pytest.mark.parametrize("seed", range(3))
def test_add_int32_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(3000 + seed)
    shapes = broadcast_shapes(rng)
    model = binary_op_model("ADD", shapes, "int32", None, "NONE")
    inputs = [random_ints(rng, s, "int32") // 2 for s in shapes[:2]]
    assert_same_as_tflm(model, inputs, label=f"int32 seed={seed} {shapes}")


def test_incompatible_shapes_are_a_prepare_error() -> None:
    model = binary_op_model("ADD", ([2, 3], [4, 3], [4, 3]), "float32", None, "NONE")
    x = [np.zeros([2, 3], np.float32), np.zeros([4, 3], np.float32)]
    with pytest.raises(host_runtime.HostRunnerError, match="ADD.*not broadcast-compatible"):
        host_runtime.run_model(model, x)


def test_output_scale_too_small_for_the_rescale_is_a_prepare_error() -> None:
    # 2 * max(input scale) / (2^20 * output scale) >= 1: TFLM aborts on this, we refuse it.
    quant = [(1.0, 0), (1.0, 0), (1e-7, 0)]
    model = binary_op_model("ADD", ([4], [4], [4]), "int8", quant, "NONE")
    x = [np.zeros([4], np.int8)] * 2
    with pytest.raises(host_runtime.HostRunnerError, match="ADD.*output scale .* too small"):
        host_runtime.run_model(model, x)


def test_missing_input_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "float32")
    y = b.add_tensor([4], "float32")
    b.add_operator("ADD", [x, -1], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="ADD.*required input 1 is missing"):
        host_runtime.run_model(b.build(), [np.zeros([4], np.float32)])
