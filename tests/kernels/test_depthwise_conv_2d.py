"""DEPTHWISE_CONV_2D: our kernel against TFLM's on one-op models with random shapes, depth
multipliers, strides, dilations, paddings, fused activations and per-channel/per-tensor filter
quantization, for int8, int16 x int8 ("16x8") and float32. Outputs must be bit-identical."""

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
    random_window,
    random_zero_point,
    symmetric_weights,
)

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


def _options(w: dict, depth_multiplier: int, act: str) -> dict:
    return {
        "padding": w["padding"],
        "stride_h": w["s_h"],
        "stride_w": w["s_w"],
        "depth_multiplier": depth_multiplier,
        "dilation_h_factor": w["d_h"],
        "dilation_w_factor": w["d_w"],
        "fused_activation_function": act,
    }


def _quantized_model(
    rng: np.random.Generator, act_dtype: str, bias_dtype: str | None
) -> tuple[bytes, np.ndarray, str]:
    w = random_window(rng)
    batches = int(rng.integers(1, 3))
    in_depth = int(rng.integers(1, 7))
    multiplier = int(rng.choice([1, 1, 2, 3, 8]))
    out_depth = in_depth * multiplier
    per_channel = bool(rng.integers(0, 4))  # mostly per-channel, as converters write them
    act = str(rng.choice(ACTIVATIONS))
    # int16 activations cover the same real range as int8 ones with 256x the resolution.
    input_scale = random_scale(rng, 0.005, 0.1) / (256.0 if act_dtype == "int16" else 1.0)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    output_scale = output_scale_for(
        input_scale, float(np.mean(f_scales)), w["f_h"] * w["f_w"], rng, act_dtype
    )

    b = ModelBuilder()
    x = b.add_tensor(
        [batches, w["in_h"], w["in_w"], in_depth],
        act_dtype,
        scale=input_scale,
        zero_point=random_zero_point(rng, act_dtype),
    )
    weights = symmetric_weights(rng, [1, w["f_h"], w["f_w"], out_depth])
    f = b.add_tensor(
        weights.shape,
        "int8",
        data=weights,
        scale=f_scales,
        zero_point=[0] * len(f_scales),
        quantized_dimension=3,
    )
    inputs = [x, f]
    if bias_dtype is not None:
        scales = f_scales if per_channel else f_scales * out_depth
        data, b_scales = bias_values(rng, out_depth, input_scale, scales, bias_dtype)
        inputs.append(
            b.add_tensor(
                [out_depth], bias_dtype, data=data, scale=b_scales, zero_point=[0] * out_depth
            )
        )
    y = b.add_tensor(
        [batches, w["out_h"], w["out_w"], out_depth],
        act_dtype,
        scale=output_scale,
        zero_point=random_zero_point(rng, act_dtype),
    )
    b.add_operator("DEPTHWISE_CONV_2D", inputs, [y], _options(w, multiplier, act))
    b.set_io([x], [y])
    x_data = random_ints(rng, [batches, w["in_h"], w["in_w"], in_depth], act_dtype)
    label = f"{act_dtype} dm={multiplier} pc={per_channel} bias={bias_dtype} {w} act={act}"
    return b.build(), x_data, label


@pytest.mark.parametrize("seed", range(30))
@both_kernels
def test_int8_matches_tflm(seed: int, kernels: str) -> None:
    rng = np.random.default_rng(2000 + seed)
    model, x, label = _quantized_model(rng, "int8", None if seed % 6 == 5 else "int32")
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@pytest.mark.parametrize("seed", range(8))
def test_int16x8_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(2200 + seed)
    model, x, label = _quantized_model(rng, "int16", None if seed % 3 == 2 else "int64")
    assert_same_as_tflm(model, [x], label)


def test_int16_with_int32_bias_is_a_prepare_error() -> None:
    # TFLM reads an int32 bias of a 16x8 depthwise conv as int64 (garbage); we refuse it.
    model, x, _ = _quantized_model(np.random.default_rng(2300), "int16", "int32")
    with pytest.raises(host_runtime.HostRunnerError, match="DEPTHWISE_CONV_2D.*bias type int32"):
        host_runtime.run_model(model, [x])


@pytest.mark.parametrize("seed", range(8))
def test_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(2100 + seed)
    w = random_window(rng)
    in_depth = int(rng.integers(1, 6))
    multiplier = int(rng.choice([1, 2, 4]))
    out_depth = in_depth * multiplier
    act = str(rng.choice(ACTIVATIONS))
    b = ModelBuilder()
    x = b.add_tensor([1, w["in_h"], w["in_w"], in_depth], "float32")
    weights = rng.normal(0, 0.5, [1, w["f_h"], w["f_w"], out_depth]).astype(np.float32)
    f = b.add_tensor(weights.shape, "float32", data=weights)
    bias = b.add_tensor([out_depth], "float32", data=rng.normal(0, 1, out_depth).astype(np.float32))
    y = b.add_tensor([1, w["out_h"], w["out_w"], out_depth], "float32")
    b.add_operator("DEPTHWISE_CONV_2D", [x, f, bias], [y], _options(w, multiplier, act))
    b.set_io([x], [y])
    x_data = rng.normal(0, 2, [1, w["in_h"], w["in_w"], in_depth]).astype(np.float32)
    assert_same_as_tflm(b.build(), [x_data], f"float dm={multiplier} {w} act={act}")


@both_kernels
def test_per_channel_multiplier_is_formed_in_double_like_tflm(kernels: str) -> None:
    """See kernel_harness.PRODUCT_ROUNDING_SCALES."""
    input_scale, filter_scale, output_scale = PRODUCT_ROUNDING_SCALES
    n = len(PRODUCT_ROUNDING_ACCUMULATORS)
    b = ModelBuilder()
    x = b.add_tensor([1, 1, 1, n], "int8", scale=input_scale, zero_point=0)
    shape = [1, 1, 1, n]
    w = b.add_tensor(
        shape,
        "int8",
        data=np.ones(shape, np.int8),
        scale=[filter_scale] * n,
        zero_point=[0] * n,
        quantized_dimension=3,
    )
    bias_data = np.array(PRODUCT_ROUNDING_ACCUMULATORS, np.int32)
    bias_scale = float(np.float32(input_scale * filter_scale))
    bias = b.add_tensor([n], "int32", data=bias_data, scale=[bias_scale] * n, zero_point=[0] * n)
    y = b.add_tensor([1, 1, 1, n], "int8", scale=output_scale, zero_point=0)
    options = {"padding": "VALID", "stride_h": 1, "stride_w": 1, "depth_multiplier": 1}
    b.add_operator("DEPTHWISE_CONV_2D", [x, w, bias], [y], options)
    b.set_io([x], [y])
    x_data = np.zeros([1, 1, 1, n], np.int8)
    assert_same_as_tflm(b.build(), [x_data], "double-product multiplier", kernels=kernels)
