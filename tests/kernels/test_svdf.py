"""SVDF against TFLM: random batch/input/filter/rank/memory sizes and quantization, the full
integer form (int16 time weights and state, as in keyword_scrambled), the int8-state form
(nonzero state zero point, as in keyword_scrambled_8bit) and float32; several invokes so the
variable state shifts through its memory. Outputs bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import (
    assert_same_as_tflm_repeated,
    random_ints,
    random_scale,
    symmetric_weights,
)

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


def _sizes(rng: np.random.Generator) -> dict[str, int]:
    rank = int(rng.integers(1, 4))
    units = int(rng.integers(1, 9))
    return {
        "batch": int(rng.integers(1, 3)),
        "input_size": int(rng.integers(1, 17)),
        "rank": rank,
        "units": units,
        "filters": rank * units,
        "memory": int(rng.integers(1, 9)),
    }


def _integer_model(
    rng: np.random.Generator, sz: dict[str, int], state_dtype: str, x: np.ndarray, invokes: int
) -> bytes:
    """Random integer SVDF whose state and output scales are calibrated on a float model of
    `invokes` steps on input `x`, so few values saturate and rounding differences would show."""
    batch, filters, memory, units = sz["batch"], sz["filters"], sz["memory"], sz["units"]
    in_scale, wf_scale = random_scale(rng, 0.01, 0.1), random_scale(rng, 0.002, 0.02)
    in_zp = int(rng.integers(-128, 128))
    wf_q = symmetric_weights(rng, [filters, sz["input_size"]])
    wt_q = symmetric_weights(rng, [filters, memory], state_dtype)
    wt_scale = random_scale(rng, 0.001, 0.02)
    state_max = 32767 if state_dtype == "int16" else 127
    # Feature activations (the state's newest column) in real numbers.
    feature = ((x.astype(np.float64) - in_zp) * in_scale) @ (wf_q * wf_scale).T  # [batch, filters]
    state_scale = float(np.float32(np.abs(feature).max() / (state_max * rng.uniform(0.6, 1.0))))
    state_zp = 0 if state_dtype == "int16" else int(rng.integers(-30, 30))
    # After `invokes` steps the last min(invokes, memory) time columns hold the activations.
    filled = np.zeros(memory)
    filled[max(0, memory - invokes) :] = 1.0
    per_filter = feature * ((wt_q * wt_scale) @ filled)  # [batch, filters]
    no_bias = per_filter.reshape(batch, units, sz["rank"]).sum(axis=2)
    bias_scale = float(np.float32(np.float32(state_scale) * np.float32(wt_scale)))
    bias_real = rng.uniform(-0.3, 0.3, units) * max(np.abs(no_bias).max(), 1e-6)
    bias_data = np.round(bias_real / bias_scale).astype(np.int32)
    y_real = no_bias + bias_data * bias_scale
    out_scale = float(np.float32(max(np.abs(y_real).max(), 1e-6) / (127 * rng.uniform(0.5, 1.0))))
    out_zp = int(rng.integers(-30, 30))

    b = ModelBuilder()
    x_t = b.add_tensor([batch, sz["input_size"]], "int8", scale=in_scale, zero_point=in_zp)
    wf = b.add_tensor(
        [filters, sz["input_size"]],
        "int8",
        data=wf_q,
        scale=wf_scale,
        zero_point=0,
    )
    wt = b.add_tensor(
        [filters, memory],
        state_dtype,
        data=wt_q,
        scale=wt_scale,
        zero_point=0,
    )
    bias = b.add_tensor([sz["units"]], "int32", data=bias_data, scale=bias_scale, zero_point=0)
    state = b.add_tensor(
        [batch, memory * filters],
        state_dtype,
        scale=state_scale,
        zero_point=state_zp,
        is_variable=True,
    )
    y = b.add_tensor([batch, units], "int8", scale=out_scale, zero_point=out_zp)
    b.add_operator(
        "SVDF",
        [x_t, wf, wt, bias, state],
        [y],
        {"rank": sz["rank"], "fused_activation_function": "RELU"},
    )
    b.set_io([x_t], [y])
    return b.build()


@pytest.mark.parametrize("state_dtype", ["int16", "int8"])
@pytest.mark.parametrize("seed", range(12))
def test_svdf_integer_matches_tflm(state_dtype: str, seed: int) -> None:
    rng = np.random.default_rng(15000 + seed)
    sz = _sizes(rng)
    x = random_ints(rng, [sz["batch"], sz["input_size"]], "int8")
    invokes = int(rng.integers(1, sz["memory"] + 3))
    model = _integer_model(rng, sz, state_dtype, x, invokes)
    assert_same_as_tflm_repeated(model, [x], invokes, label=f"{state_dtype} seed={seed} {sz}")


@pytest.mark.parametrize("seed", range(6))
def test_svdf_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(16000 + seed)
    sz = _sizes(rng)
    batch, filters, memory = sz["batch"], sz["filters"], sz["memory"]
    b = ModelBuilder()
    x = b.add_tensor([batch, sz["input_size"]], "float32")
    wf = b.add_tensor(
        [filters, sz["input_size"]],
        "float32",
        data=rng.normal(0, 0.5, [filters, sz["input_size"]]).astype(np.float32),
    )
    wt = b.add_tensor(
        [filters, memory], "float32", data=rng.normal(0, 0.5, [filters, memory]).astype(np.float32)
    )
    bias = b.add_tensor(
        [sz["units"]], "float32", data=rng.normal(size=sz["units"]).astype(np.float32)
    )
    state = b.add_tensor([batch, memory * filters], "float32", is_variable=True)
    y = b.add_tensor([batch, sz["units"]], "float32")
    activation = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"][seed % 5]
    b.add_operator(
        "SVDF",
        [x, wf, wt, bias, state],
        [y],
        {"rank": sz["rank"], "fused_activation_function": activation},
    )
    b.set_io([x], [y])
    inputs = [rng.normal(size=[batch, sz["input_size"]]).astype(np.float32)]
    invokes = int(rng.integers(1, memory + 3))
    assert_same_as_tflm_repeated(b.build(), inputs, invokes, label=f"float seed={seed} {sz}")


def test_state_that_is_not_a_variable_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "float32")
    wf = b.add_tensor([2, 4], "float32", data=np.ones([2, 4], np.float32))
    wt = b.add_tensor([2, 3], "float32", data=np.ones([2, 3], np.float32))
    bias = b.add_tensor([2], "float32", data=np.zeros(2, np.float32))
    state = b.add_tensor([1, 6], "float32")  # not marked variable
    y = b.add_tensor([1, 2], "float32")
    b.add_operator("SVDF", [x, wf, wt, bias, state], [y], {"rank": 1})
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="SVDF.*must be a variable tensor"):
        host_runtime.run_model(b.build(), [np.zeros([1, 4], np.float32)])
