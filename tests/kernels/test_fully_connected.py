"""FULLY_CONNECTED: our kernel against TFLM's on one-op models: int8 with per-tensor and
per-channel weights, optional bias, keep_num_dims and higher-rank inputs; int16 activations with
int8 weights (int64 / int32 / no bias); float32. Outputs must be bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import (
    ACTIVATIONS,
    PRODUCT_ROUNDING_ACCUMULATORS,
    PRODUCT_ROUNDING_SCALES,
    assert_same_as_tflm,
    bias_values,
    both_kernels,
    channel_scales,
    output_scale_for,
    random_ints,
    random_scale,
    random_zero_point,
    symmetric_weights,
)

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


def _shapes(rng: np.random.Generator, keep_num_dims: bool) -> tuple[list[int], list[int], int]:
    """Input shape, output shape and accumulation depth."""
    batches = int(rng.integers(1, 4))
    out_depth = int(rng.integers(1, 12))
    if keep_num_dims:
        lead = [int(v) for v in rng.integers(1, 3, int(rng.integers(1, 3)))]
        accum = int(rng.integers(1, 40))
        return [*lead, accum], [*lead, out_depth], accum
    if rng.integers(0, 2):  # a 4-D input flattened to [batches, accum]
        h, w, c = (int(v) for v in rng.integers(1, 5, 3))
        return [batches, h, w, c], [batches, out_depth], h * w * c
    accum = int(rng.integers(1, 64))
    return [batches, accum], [batches, out_depth], accum


def _quantized_model(
    rng: np.random.Generator, act_dtype: str, bias_dtype: str | None, per_channel: bool
) -> tuple[bytes, np.ndarray, str]:
    keep_num_dims = bool(rng.integers(0, 4) == 0)
    in_shape, out_shape, accum = _shapes(rng, keep_num_dims)
    out_depth = out_shape[-1]
    act = str(rng.choice(ACTIVATIONS))
    # int16 activations cover the same real range as int8 ones with 256x the resolution.
    input_scale = random_scale(rng, 0.005, 0.1) / (256.0 if act_dtype == "int16" else 1.0)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    output_scale = output_scale_for(input_scale, float(np.mean(f_scales)), accum, rng, act_dtype)

    b = ModelBuilder()
    x = b.add_tensor(
        in_shape, act_dtype, scale=input_scale, zero_point=random_zero_point(rng, act_dtype)
    )
    weights = symmetric_weights(rng, [out_depth, accum])
    f = b.add_tensor(
        weights.shape,
        "int8",
        data=weights,
        scale=f_scales,
        zero_point=[0] * len(f_scales),
        quantized_dimension=0,
    )
    inputs = [x, f, -1]
    if bias_dtype is not None:
        scales = f_scales if per_channel else f_scales * out_depth
        data, b_scales = bias_values(rng, out_depth, input_scale, scales, bias_dtype)
        b_scales = b_scales if per_channel else b_scales[:1]
        inputs[2] = b.add_tensor(
            [out_depth], bias_dtype, data=data, scale=b_scales, zero_point=[0] * len(b_scales)
        )
    y = b.add_tensor(
        out_shape, act_dtype, scale=output_scale, zero_point=random_zero_point(rng, act_dtype)
    )
    options = {"fused_activation_function": act, "keep_num_dims": keep_num_dims}
    b.add_operator("FULLY_CONNECTED", inputs, [y], options)
    b.set_io([x], [y])
    label = f"{act_dtype} pc={per_channel} bias={bias_dtype} in={in_shape} out={out_shape} {act}"
    return b.build(), random_ints(rng, in_shape, act_dtype), label


@pytest.mark.parametrize("seed", range(20))
@both_kernels
def test_int8_per_tensor_matches_tflm(seed: int, kernels: str) -> None:
    rng = np.random.default_rng(3000 + seed)
    bias = None if seed % 5 == 4 else "int32"
    model, x, label = _quantized_model(rng, "int8", bias, per_channel=False)
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@pytest.mark.parametrize("seed", range(12))
@both_kernels
def test_int8_per_channel_matches_tflm(seed: int, kernels: str) -> None:
    rng = np.random.default_rng(3100 + seed)
    bias = None if seed % 4 == 3 else "int32"
    model, x, label = _quantized_model(rng, "int8", bias, per_channel=True)
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", ["int64", "int32", None])
@pytest.mark.parametrize("seed", range(3))
def test_int16_activations_match_tflm(seed: int, bias: str | None, per_channel: bool) -> None:
    """int16 x int8: TFLM accumulates in int32 with an int32 bias, in int64 otherwise."""
    rng = np.random.default_rng(3200 + seed)
    model, x, label = _quantized_model(rng, "int16", bias, per_channel=per_channel)
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("seed", range(8))
def test_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(3300 + seed)
    keep_num_dims = bool(seed % 3 == 0)
    in_shape, out_shape, accum = _shapes(rng, keep_num_dims)
    out_depth = out_shape[-1]
    act = str(rng.choice(ACTIVATIONS))
    b = ModelBuilder()
    x = b.add_tensor(in_shape, "float32")
    weights = rng.normal(0, 0.5, [out_depth, accum]).astype(np.float32)
    f = b.add_tensor(weights.shape, "float32", data=weights)
    bias = -1
    if seed % 2 == 0:
        bias_data = rng.normal(0, 1, out_depth).astype(np.float32)
        bias = b.add_tensor([out_depth], "float32", data=bias_data)
    y = b.add_tensor(out_shape, "float32")
    options = {"fused_activation_function": act, "keep_num_dims": keep_num_dims}
    b.add_operator("FULLY_CONNECTED", [x, f, bias], [y], options)
    b.set_io([x], [y])
    x_data = rng.normal(0, 2, in_shape).astype(np.float32)
    assert_same_as_tflm(b.build(), [x_data], f"float in={in_shape} out={out_shape} {act}")


@both_kernels
def test_per_tensor_multiplier_is_formed_in_double_like_tflm(kernels: str) -> None:
    """See kernel_harness.PRODUCT_ROUNDING_SCALES."""
    input_scale, filter_scale, output_scale = PRODUCT_ROUNDING_SCALES
    accumulators = list(PRODUCT_ROUNDING_ACCUMULATORS)
    n = len(accumulators)
    b = ModelBuilder()
    x = b.add_tensor([1, 1], "int8", scale=input_scale, zero_point=0)
    w = b.add_tensor(
        [n, 1], "int8", data=np.ones([n, 1], np.int8), scale=filter_scale, zero_point=0
    )
    bias_scale = float(np.float32(input_scale * filter_scale))
    bias = b.add_tensor(
        [n], "int32", data=np.array(accumulators, np.int32), scale=bias_scale, zero_point=0
    )
    y = b.add_tensor([1, n], "int8", scale=output_scale, zero_point=0)
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y])
    b.set_io([x], [y])
    assert_same_as_tflm(
        b.build(), [np.zeros([1, 1], np.int8)], "double-product multiplier", kernels=kernels
    )


def test_hybrid_weights_are_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "float32")
    weights = np.ones([3, 8], np.int8)
    f = b.add_tensor(weights.shape, "int8", data=weights, scale=0.1, zero_point=0)
    y = b.add_tensor([1, 3], "float32")
    b.add_operator("FULLY_CONNECTED", [x, f, -1], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="FULLY_CONNECTED.*hybrid"):
        host_runtime.run_model(b.build(), [np.zeros([1, 8], np.float32)])


def test_input_size_not_matching_the_weights_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2, 8], "int8", scale=0.1, zero_point=0)
    weights = np.ones([3, 7], np.int8)
    f = b.add_tensor(weights.shape, "int8", data=weights, scale=0.1, zero_point=0)
    y = b.add_tensor([2, 3], "int8", scale=0.1, zero_point=0)
    b.add_operator("FULLY_CONNECTED", [x, f, -1], [y])
    b.set_io([x], [y])
    with pytest.raises(
        host_runtime.HostRunnerError, match="input has 16 values, expected 2 batches x 7 inputs"
    ):
        host_runtime.run_model(b.build(), [np.zeros([2, 8], np.int8)])


@pytest.mark.parametrize("filter_zero_point", [3, -7])
@both_kernels
def test_int8_asymmetric_per_tensor_weights_match_tflm(
    filter_zero_point: int, kernels: str
) -> None:
    """TFLite's spec wants symmetric weights, but TFLM applies a per-tensor filter zero point."""
    rng = np.random.default_rng(3400 + filter_zero_point)
    b = ModelBuilder()
    x = b.add_tensor([2, 16], "int8", scale=0.05, zero_point=4)
    weights = symmetric_weights(rng, [5, 16])
    w = b.add_tensor(weights.shape, "int8", data=weights, scale=0.02, zero_point=filter_zero_point)
    y = b.add_tensor([2, 5], "int8", scale=0.3, zero_point=-3)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    b.set_io([x], [y])
    x_data = random_ints(rng, [2, 16], "int8")
    assert_same_as_tflm(
        b.build(), [x_data], f"filter zero point {filter_zero_point}", kernels=kernels
    )
