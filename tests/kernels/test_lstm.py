"""UNIDIRECTIONAL_SEQUENCE_LSTM against TFLM: random batch/time/input/state sizes, time-major
and batch-major layouts, cell clipping, quantization parameters and cell-state scales, for the
8x8->16 integer form (trained_lstm_int8), the 16x8->16 form and float32; several invokes so
the hidden and cell state carry over. Outputs bit-identical."""

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

NUM_INPUTS = 24


def _sizes(rng: np.random.Generator) -> dict[str, int | bool]:
    return {
        "batch": int(rng.integers(1, 3)),
        "time": int(rng.integers(1, 6)),
        "input": int(rng.integers(1, 9)),
        "state": int(rng.integers(1, 9)),
        "time_major": bool(rng.random() < 0.4),
    }


def _lstm_model(
    rng: np.random.Generator, sz: dict, kind: str, cell_scale: float | None = None
) -> tuple[bytes, np.ndarray]:
    """One-op LSTM model of `kind` ("int8", "int16" or "float32") and a matching input; the
    int16 cell state's scale is a random power of two unless given."""
    batch, time, n_in, n_state = sz["batch"], sz["time"], sz["input"], sz["state"]
    seq = [time, batch] if sz["time_major"] else [batch, time]
    b = ModelBuilder()
    inputs = [-1] * NUM_INPUTS
    cell_clip = float(rng.choice([0.0, 0.0, 1.5, 4.0]))

    if kind == "float32":
        inputs[0] = x = b.add_tensor([*seq, n_in], "float32")
        for g in range(4):
            w = rng.normal(0, 0.6, [n_state, n_in]).astype(np.float32)
            r = rng.normal(0, 0.6, [n_state, n_state]).astype(np.float32)
            inputs[1 + g] = b.add_tensor([n_state, n_in], "float32", data=w)
            inputs[5 + g] = b.add_tensor([n_state, n_state], "float32", data=r)
            bias = rng.normal(0, 0.5, n_state).astype(np.float32)
            inputs[12 + g] = b.add_tensor([n_state], "float32", data=bias)
        inputs[18] = b.add_tensor([batch, n_state], "float32", is_variable=True)
        inputs[19] = b.add_tensor([batch, n_state], "float32", is_variable=True)
        y = b.add_tensor([*seq, n_state], "float32")
        data = rng.normal(0, 1.5, [*seq, n_in]).astype(np.float32)
    else:
        act = kind
        bias_dtype = "int32" if kind == "int8" else "int64"
        in_scale = random_scale(rng, 0.004, 0.05)
        in_zp = int(rng.integers(-128, 128)) if kind == "int8" else 0
        if kind == "int16":
            in_scale = float(np.float32(in_scale / 256))
        hidden_scale = random_scale(rng, 0.004, 0.02)
        if kind == "int16":
            hidden_scale = float(np.float32(hidden_scale / 256))
        hidden_zp = int(rng.integers(-20, 20)) if kind == "int8" else 0
        if cell_scale is None:
            cell_scale = 2.0 ** -int(rng.integers(10, 15))
        inputs[0] = x = b.add_tensor([*seq, n_in], act, scale=in_scale, zero_point=in_zp)
        for g in range(4):
            ws, rs = random_scale(rng, 0.003, 0.03), random_scale(rng, 0.003, 0.03)
            w = symmetric_weights(rng, [n_state, n_in])
            r = symmetric_weights(rng, [n_state, n_state])
            inputs[1 + g] = b.add_tensor([n_state, n_in], "int8", data=w, scale=ws, zero_point=0)
            inputs[5 + g] = b.add_tensor([n_state, n_state], "int8", data=r, scale=rs, zero_point=0)
            bias_scale = float(np.float32(in_scale * ws))
            bias = (rng.normal(0, 0.5, n_state) / bias_scale).astype(bias_dtype)
            inputs[12 + g] = b.add_tensor(
                [n_state], bias_dtype, data=bias, scale=bias_scale, zero_point=0
            )
        inputs[18] = b.add_tensor(
            [batch, n_state], act, scale=hidden_scale, zero_point=hidden_zp, is_variable=True
        )
        inputs[19] = b.add_tensor(
            [batch, n_state], "int16", scale=cell_scale, zero_point=0, is_variable=True
        )
        y = b.add_tensor([*seq, n_state], act, scale=hidden_scale, zero_point=hidden_zp)
        data = random_ints(rng, [*seq, n_in], act)
        if kind == "int16":
            data = (data // int(rng.integers(1, 64))).astype(np.int16)

    options = {
        "fused_activation_function": "TANH",
        "cell_clip": cell_clip,
        "time_major": sz["time_major"],
    }
    b.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], options)
    b.set_io([x], [y])
    return b.build(), data


@pytest.mark.parametrize("kind", ["int8", "int16", "float32"])
@pytest.mark.parametrize("seed", range(8))
def test_lstm_matches_tflm(kind: str, seed: int) -> None:
    rng = np.random.default_rng(17000 + seed)
    sz = _sizes(rng)
    model, x = _lstm_model(rng, sz, kind)
    invokes = 1 + seed % 3
    assert_same_as_tflm_repeated(model, [x], invokes, label=f"{kind} seed={seed} {sz}")


def test_peephole_lstm_is_a_prepare_error() -> None:
    # A cell-to-forget (peephole) weight, input 10, which TFLM does not support either.
    b = ModelBuilder()
    inputs = [-1] * NUM_INPUTS
    inputs[0] = xi = b.add_tensor([1, 2, 3], "float32")
    for g in range(4):
        inputs[1 + g] = b.add_tensor([2, 3], "float32", data=np.ones([2, 3], np.float32))
        inputs[5 + g] = b.add_tensor([2, 2], "float32", data=np.ones([2, 2], np.float32))
        inputs[12 + g] = b.add_tensor([2], "float32", data=np.zeros(2, np.float32))
    inputs[10] = b.add_tensor([2], "float32", data=np.ones(2, np.float32))
    inputs[18] = b.add_tensor([1, 2], "float32", is_variable=True)
    inputs[19] = b.add_tensor([1, 2], "float32", is_variable=True)
    y = b.add_tensor([1, 2, 2], "float32")
    b.add_operator(
        "UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], {"fused_activation_function": "TANH"}
    )
    b.set_io([xi], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="LSTM.*input 10 is given: peephole"):
        host_runtime.run_model(b.build(), [np.zeros([1, 2, 3], np.float32)])


@pytest.mark.parametrize("cell_power", [124, 3, -44])
def test_cell_state_scale_out_of_range_is_a_prepare_error(cell_power: int) -> None:
    # Found by the fuzzer: 2^124 made the int16 tanh of the cell state shift by 136 bits.
    rng = np.random.default_rng(17100)
    sz = {"batch": 1, "time": 2, "input": 3, "state": 2, "time_major": False}
    model, x = _lstm_model(rng, sz, "int8", cell_scale=2.0**cell_power)
    with pytest.raises(host_runtime.HostRunnerError, match="cell state scale .* is outside"):
        host_runtime.run_model(model, [x])


@pytest.mark.parametrize("cell_power", [2, -43])
def test_cell_state_scale_at_the_range_ends_matches_tflm(cell_power: int) -> None:
    rng = np.random.default_rng(17200)
    sz = {"batch": 1, "time": 2, "input": 3, "state": 2, "time_major": False}
    model, x = _lstm_model(rng, sz, "int8", cell_scale=2.0**cell_power)
    assert_same_as_tflm_repeated(model, [x], 1, label=f"cell scale 2^{cell_power}")
