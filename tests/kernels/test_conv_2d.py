"""CONV_2D: our kernel against TFLM's on one-op models with random shapes, strides, dilations,
paddings, fused activations, per-channel/per-tensor filter scales and zero points. Outputs must
be bit-identical."""

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


def _conv_model(
    rng: np.random.Generator, act_dtype: str, bias_dtype: str | None, groups: int = 1
) -> tuple[bytes, np.ndarray, str]:
    w = random_window(rng)
    batches = int(rng.integers(1, 3))
    filter_depth = int(rng.integers(1, 6))
    in_depth = filter_depth * groups
    out_depth = groups * int(rng.integers(1, 5))
    per_channel = bool(rng.integers(0, 2)) or act_dtype == "int16"
    act = str(rng.choice(ACTIVATIONS))

    # int16 activations cover the same real range as int8 ones with 256x the resolution.
    input_scale = random_scale(rng, 0.005, 0.1) / (256.0 if act_dtype == "int16" else 1.0)
    input_zp = random_zero_point(rng, act_dtype)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    accum_terms = w["f_h"] * w["f_w"] * filter_depth
    output_scale = output_scale_for(
        input_scale, float(np.mean(f_scales)), accum_terms, rng, act_dtype
    )
    output_zp = random_zero_point(rng, act_dtype)

    b = ModelBuilder()
    x = b.add_tensor(
        [batches, w["in_h"], w["in_w"], in_depth], act_dtype, scale=input_scale, zero_point=input_zp
    )
    weights = symmetric_weights(rng, [out_depth, w["f_h"], w["f_w"], filter_depth])
    f = b.add_tensor(
        weights.shape,
        "int8",
        data=weights,
        scale=f_scales,
        zero_point=[0] * len(f_scales),
        quantized_dimension=0,
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
        zero_point=output_zp,
    )
    options = {
        "padding": w["padding"],
        "stride_h": w["s_h"],
        "stride_w": w["s_w"],
        "dilation_h_factor": w["d_h"],
        "dilation_w_factor": w["d_w"],
        "fused_activation_function": act,
    }
    b.add_operator("CONV_2D", inputs, [y], options)
    b.set_io([x], [y])
    x_data = random_ints(rng, [batches, w["in_h"], w["in_w"], in_depth], act_dtype)
    label = f"{act_dtype} bias={bias_dtype} groups={groups} pc={per_channel} {w} act={act}"
    return b.build(), x_data, label


@pytest.mark.parametrize("seed", range(30))
@both_kernels
def test_int8_matches_tflm(seed: int, kernels: str) -> None:
    rng = np.random.default_rng(1000 + seed)
    bias = None if seed % 7 == 3 else "int32"
    model, x, label = _conv_model(rng, "int8", bias)
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@pytest.mark.parametrize("seed", range(4))
@both_kernels
def test_int8_grouped_matches_tflm(seed: int, kernels: str) -> None:
    rng = np.random.default_rng(1100 + seed)
    model, x, label = _conv_model(rng, "int8", "int32", groups=int(rng.integers(2, 4)))
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@pytest.mark.parametrize("seed", range(8))
def test_int16x8_int64_bias_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(1200 + seed)
    model, x, label = _conv_model(rng, "int16", "int64")
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("seed", range(4))
def test_int16x8_int32_or_no_bias_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(1300 + seed)
    model, x, label = _conv_model(rng, "int16", "int32" if seed % 2 == 0 else None)
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("seed", range(8))
def test_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(1400 + seed)
    w = random_window(rng)
    batches, in_depth, out_depth = 1, int(rng.integers(1, 6)), int(rng.integers(1, 6))
    act = str(rng.choice(ACTIVATIONS))
    b = ModelBuilder()
    x = b.add_tensor([batches, w["in_h"], w["in_w"], in_depth], "float32")
    weights = rng.normal(0, 0.5, [out_depth, w["f_h"], w["f_w"], in_depth]).astype(np.float32)
    f = b.add_tensor(weights.shape, "float32", data=weights)
    bias = b.add_tensor([out_depth], "float32", data=rng.normal(0, 1, out_depth).astype(np.float32))
    y = b.add_tensor([batches, w["out_h"], w["out_w"], out_depth], "float32")
    options = {
        "padding": w["padding"],
        "stride_h": w["s_h"],
        "stride_w": w["s_w"],
        "dilation_h_factor": w["d_h"],
        "dilation_w_factor": w["d_w"],
        "fused_activation_function": act,
    }
    b.add_operator("CONV_2D", [x, f, bias], [y], options)
    b.set_io([x], [y])
    x_data = rng.normal(0, 2, [batches, w["in_h"], w["in_w"], in_depth]).astype(np.float32)
    assert_same_as_tflm(b.build(), [x_data], f"float {w} act={act}")


def test_output_shape_not_matching_the_window_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 5, 5, 2], "int8", scale=0.1, zero_point=0)
    weights = np.ones([3, 3, 3, 2], np.int8)
    f = b.add_tensor(weights.shape, "int8", data=weights, scale=0.1, zero_point=0)
    y = b.add_tensor([1, 5, 5, 3], "int8", scale=0.1, zero_point=0)
    b.add_operator("CONV_2D", [x, f], [y], {"padding": "VALID", "stride_h": 1, "stride_w": 1})
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="CONV_2D: output is 5x5 but .* 3x3"):
        host_runtime.run_model(b.build(), [np.zeros([1, 5, 5, 2], np.int8)])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"padding": "VALID"}, "strides must be >= 1"),  # strides default to 0 in the schema
        ({"padding": "VALID", "stride_h": 1, "stride_w": -2}, "strides must be >= 1"),
        (
            {"padding": "VALID", "stride_h": 1, "stride_w": 1, "dilation_h_factor": 0},
            "dilations must be >= 1",
        ),
    ],
)
def test_hostile_options_are_a_prepare_error(options: dict, message: str) -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 5, 5, 2], "int8", scale=0.1, zero_point=0)
    weights = np.ones([3, 3, 3, 2], np.int8)
    f = b.add_tensor(weights.shape, "int8", data=weights, scale=0.1, zero_point=0)
    y = b.add_tensor([1, 3, 3, 3], "int8", scale=0.1, zero_point=0)
    b.add_operator("CONV_2D", [x, f], [y], options)
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match=f"CONV_2D: {message}"):
        host_runtime.run_model(b.build(), [np.zeros([1, 5, 5, 2], np.int8)])


@both_kernels
def test_per_channel_multiplier_is_formed_in_double_like_tflm(kernels: str) -> None:
    """See kernel_harness.PRODUCT_ROUNDING_SCALES."""
    input_scale, filter_scale, output_scale = PRODUCT_ROUNDING_SCALES
    n = len(PRODUCT_ROUNDING_ACCUMULATORS)
    b = ModelBuilder()
    x = b.add_tensor([1, 1, 1, 1], "int8", scale=input_scale, zero_point=0)
    shape = [n, 1, 1, 1]
    w = b.add_tensor(
        shape,
        "int8",
        data=np.ones(shape, np.int8),
        scale=[filter_scale] * n,
        zero_point=[0] * n,
        quantized_dimension=0,
    )
    bias_data = np.array(PRODUCT_ROUNDING_ACCUMULATORS, np.int32)
    bias_scale = float(np.float32(input_scale * filter_scale))
    bias = b.add_tensor([n], "int32", data=bias_data, scale=[bias_scale] * n, zero_point=[0] * n)
    y = b.add_tensor([1, 1, 1, n], "int8", scale=output_scale, zero_point=0)
    options = {"padding": "VALID", "stride_h": 1, "stride_w": 1}
    b.add_operator("CONV_2D", [x, w, bias], [y], options)
    b.set_io([x], [y])
    x_data = np.zeros([1, 1, 1, 1], np.int8)
    assert_same_as_tflm(b.build(), [x_data], "double-product multiplier", kernels=kernels)
