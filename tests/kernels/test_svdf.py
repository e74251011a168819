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


def _integer_model(rng: np.random.Generator, sz: dict[str, int], state_dtype: str) -> bytes:
    batch, filters, memory = sz["batch"], sz["filters"], sz["memory"]
    in_scale, wf_scale = random_scale(rng, 0.01, 0.1), random_scale(rng, 0.002, 0.02)
    # State scale near the feature products' range, so the state neither vanishes nor
    # saturates all the time.
    typical = in_scale * wf_scale * 128 * 64 * np.sqrt(sz["input_size"])
    state_max = 32767 if state_dtype == "int16" else 127
    state_scale = float(np.float32(typical * rng.uniform(0.5, 4.0) / state_max))
    state_zp = 0 if state_dtype == "int16" else int(rng.integers(-60, 60))
    wt_scale = random_scale(rng, 0.001, 0.02)
    bias_scale = float(np.float32(np.float32(state_scale) * np.float32(wt_scale)))
    out_typical = state_scale * wt_scale * state_max * 64 * np.sqrt(memory * sz["rank"])
    out_scale = float(np.float32(out_typical * rng.uniform(0.3, 3.0) / 127))

    b = ModelBuilder()
    x = b.add_tensor(
        [batch, sz["input_size"]], "int8", scale=in_scale, zero_point=int(rng.integers(-128, 128))
    )
    wf = b.add_tensor(
        [filters, sz["input_size"]],
        "int8",
        data=symmetric_weights(rng, [filters, sz["input_size"]]),
        scale=wf_scale,
        zero_point=0,
    )
    wt = b.add_tensor(
        [filters, memory],
        state_dtype,
        data=symmetric_weights(rng, [filters, memory], state_dtype),
        scale=wt_scale,
        zero_point=0,
    )
    bias_data = rng.integers(-20000, 20000, size=sz["units"]).astype(np.int32)
    bias = b.add_tensor([sz["units"]], "int32", data=bias_data, scale=bias_scale, zero_point=0)
    state = b.add_tensor(
        [batch, memory * filters],
        state_dtype,
        scale=state_scale,
        zero_point=state_zp,
        is_variable=True,
    )
    y = b.add_tensor(
        [batch, sz["units"]], "int8", scale=out_scale, zero_point=int(rng.integers(-128, 128))
    )
    b.add_operator(
        "SVDF",
        [x, wf, wt, bias, state],
        [y],
        {"rank": sz["rank"], "fused_activation_function": "RELU"},
    )
    b.set_io([x], [y])
    return b.build()


@pytest.mark.parametrize("state_dtype", ["int16", "int8"])
@pytest.mark.parametrize("seed", range(8))
def test_svdf_integer_matches_tflm(state_dtype: str, seed: int) -> None:
    rng = np.random.default_rng(15000 + seed)
    sz = _sizes(rng)
    model = _integer_model(rng, sz, state_dtype)
    x = random_ints(rng, [sz["batch"], sz["input_size"]], "int8")
    invokes = int(rng.integers(1, sz["memory"] + 3))
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
