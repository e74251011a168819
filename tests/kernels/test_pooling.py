"""AVERAGE_POOL_2D and MAX_POOL_2D: our kernels against TFLM's on one-op models with random
shapes, filter sizes, strides, paddings and fused activations, for int8, int16 and float32.
Outputs must be bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import (
    ACTIVATIONS,
    assert_same_as_tflm,
    random_ints,
    random_scale,
    random_window,
    random_zero_point,
)

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder

OPS = ("AVERAGE_POOL_2D", "MAX_POOL_2D")


def _pool_model(op: str, dtype: str, rng: np.random.Generator) -> tuple[bytes, np.ndarray, str]:
    w = random_window(rng, max_size=10, max_filter=5, allow_dilation=False)
    batches = int(rng.integers(1, 3))
    depth = int(rng.integers(1, 6))
    act = str(rng.choice(ACTIVATIONS))
    in_shape = [batches, w["in_h"], w["in_w"], depth]
    out_shape = [batches, w["out_h"], w["out_w"], depth]
    b = ModelBuilder()
    if dtype == "float32":
        x = b.add_tensor(in_shape, dtype)
        y = b.add_tensor(out_shape, dtype)
        x_data = rng.normal(0, 4, in_shape).astype(np.float32)
    else:
        # Pooling keeps the quantization; the activation clamp uses the output's parameters.
        scale = random_scale(rng, 0.005, 0.1)
        zp = random_zero_point(rng, dtype)
        x = b.add_tensor(in_shape, dtype, scale=scale, zero_point=zp)
        y = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zp)
        x_data = random_ints(rng, in_shape, dtype)
    options = {
        "padding": w["padding"],
        "stride_h": w["s_h"],
        "stride_w": w["s_w"],
        "filter_height": w["f_h"],
        "filter_width": w["f_w"],
        "fused_activation_function": act,
    }
    b.add_operator(op, [x], [y], options)
    b.set_io([x], [y])
    return b.build(), x_data, f"{op} {dtype} {w} act={act}"


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seed", range(16))
def test_int8_matches_tflm(op: str, seed: int) -> None:
    model, x, label = _pool_model(op, "int8", np.random.default_rng(4000 + seed))
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seed", range(6))
def test_int16_matches_tflm(op: str, seed: int) -> None:
    model, x, label = _pool_model(op, "int16", np.random.default_rng(4100 + seed))
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seed", range(6))
def test_float_matches_tflm(op: str, seed: int) -> None:
    model, x, label = _pool_model(op, "float32", np.random.default_rng(4200 + seed))
    assert_same_as_tflm(model, [x], label)


@pytest.mark.parametrize(
    "in_h, in_w, f_h, f_w, s_h, s_w",
    [(25, 5, 25, 5, 25, 5), (8, 8, 8, 8, 8, 8), (6, 6, 3, 3, 2, 2)],
)
def test_reference_model_average_pools_match_tflm(
    in_h: int, in_w: int, f_h: int, f_w: int, s_h: int, s_w: int
) -> None:
    """Full-size average pools of the kind kws_ref_model, ResNet-8 and person_detect use (large
    windows, so the rounding division sees big sums)."""
    rng = np.random.default_rng(4300 + in_h)
    out_h, out_w = (in_h - f_h) // s_h + 1, (in_w - f_w) // s_w + 1
    b = ModelBuilder()
    x = b.add_tensor([1, in_h, in_w, 64], "int8", scale=0.02, zero_point=-128)
    y = b.add_tensor([1, out_h, out_w, 64], "int8", scale=0.02, zero_point=-128)
    options = {
        "padding": "VALID",
        "stride_h": s_h,
        "stride_w": s_w,
        "filter_height": f_h,
        "filter_width": f_w,
    }
    b.add_operator("AVERAGE_POOL_2D", [x], [y], options)
    b.set_io([x], [y])
    x_data = random_ints(rng, [1, in_h, in_w, 64], "int8")
    assert_same_as_tflm(b.build(), [x_data], f"average pool {in_h}x{in_w} f={f_h}x{f_w}")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"padding": "SAME", "stride_h": 1, "stride_w": 1}, "filter size must be >= 1"),
        ({"padding": "SAME", "filter_height": 2, "filter_width": 2}, "strides must be >= 1"),
    ],
)
def test_hostile_options_are_a_prepare_error(options: dict, message: str) -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4, 4, 1], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor([1, 4, 4, 1], "int8", scale=0.1, zero_point=0)
    b.add_operator("MAX_POOL_2D", [x], [y], options)
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match=f"MAX_POOL_2D: {message}"):
        host_runtime.run_model(b.build(), [np.zeros([1, 4, 4, 1], np.int8)])
