"""Kernels set B on the emulated Cortex-M4 (mps2-an386 in QEMU): one model holding ADD, MUL,
MEAN, LOGISTIC, TANH (int8, int16, float32), CONCATENATION, PAD, STRIDED_SLICE, SVDF and an
integer LSTM side by side is built with `microdeploy build`, flashed, and run on seeded random
inputs with `microdeploy run --json`, which compares every output bit for bit with TFLM's
Python interpreter (x86). This is where target differences would show: int32_t being `long`,
fused multiply-adds, newlib's expf/tanhf."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from kernel_harness import random_ints, symmetric_weights
from mps2_harness import FlashedModel, flash_model

from microdeploy.model.writer import ModelBuilder

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _multi_op_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    """Independent one-op graphs in one subgraph: every op reads its own model input."""
    b = ModelBuilder()
    inputs: list[int] = []
    outputs: list[int] = []
    arrays: list[np.ndarray] = []

    def model_input(shape: list[int], dtype: str, data: np.ndarray, **q: object) -> int:
        t = b.add_tensor(shape, dtype, **q)
        inputs.append(t)
        arrays.append(data)
        return t

    def model_output(shape: list[int], dtype: str, **q: object) -> int:
        t = b.add_tensor(shape, dtype, **q)
        outputs.append(t)
        return t

    # ADD int8 with broadcasting and RELU6; MUL int16 with broadcasting.
    a = model_input(
        [2, 1, 5, 3], "int8", random_ints(rng, [2, 1, 5, 3], "int8"), scale=0.05, zero_point=3
    )
    c = model_input(
        [4, 1, 3], "int8", random_ints(rng, [4, 1, 3], "int8"), scale=0.02, zero_point=-7
    )
    y = model_output([2, 4, 5, 3], "int8", scale=0.06, zero_point=11)
    b.add_operator("ADD", [a, c], [y], {"fused_activation_function": "RELU6"})
    a = model_input(
        [3, 1, 4], "int16", random_ints(rng, [3, 1, 4], "int16"), scale=1e-3, zero_point=0
    )
    c = model_input(
        [1, 5, 4], "int16", random_ints(rng, [1, 5, 4], "int16"), scale=2e-3, zero_point=0
    )
    y = model_output([3, 5, 4], "int16", scale=6e-6, zero_point=0)
    b.add_operator("MUL", [a, c], [y])

    # MEAN int8 over the spatial axes.
    x = model_input(
        [2, 6, 5, 7], "int8", random_ints(rng, [2, 6, 5, 7], "int8"), scale=0.03, zero_point=5
    )
    axes = b.add_tensor([2], "int32", data=np.array([1, 2], np.int32))
    y = model_output([2, 1, 1, 7], "int8", scale=0.02, zero_point=-3)
    b.add_operator("MEAN", [x, axes], [y], {"keep_dims": True})

    # LOGISTIC and TANH: every int8 value, a sweep of int16 values, floats incl. cut-offs.
    all_int8 = np.arange(-128, 128, dtype=np.int8)
    int16_sweep = np.arange(-32768, 32768, 16, dtype=np.int32).astype(np.int16)
    floats = np.concatenate([rng.normal(0, 5, 500), [-9.5, -9.0, 0.0, 16.6, 16.7, 30.0]])
    floats = floats.astype(np.float32)
    for op, out8 in (("LOGISTIC", (1 / 256, -128)), ("TANH", (1 / 128, 0))):
        x = model_input([256], "int8", all_int8, scale=0.07, zero_point=9)
        y = model_output([256], "int8", scale=out8[0], zero_point=out8[1])
        b.add_operator(op, [x], [y])
        x = model_input([4096], "int16", int16_sweep, scale=1 / 3000.0, zero_point=0)
        y = model_output([4096], "int16", scale=2.0**-15, zero_point=0)
        b.add_operator(op, [x], [y])
        x = model_input([floats.size], "float32", floats)
        y = model_output([floats.size], "float32")
        b.add_operator(op, [x], [y])

    # CONCATENATION, PAD, STRIDED_SLICE on int8.
    q = {"scale": 0.1, "zero_point": -4}
    x1 = model_input([2, 3, 4], "int8", random_ints(rng, [2, 3, 4], "int8"), **q)
    x2 = model_input([2, 2, 4], "int8", random_ints(rng, [2, 2, 4], "int8"), **q)
    y = model_output([2, 5, 4], "int8", **q)
    b.add_operator("CONCATENATION", [x1, x2], [y], {"axis": -2})
    x = model_input([2, 3, 4], "int8", random_ints(rng, [2, 3, 4], "int8"), **q)
    pads = b.add_tensor([3, 2], "int32", data=np.array([[0, 1], [2, 0], [1, 1]], np.int32))
    y = model_output([3, 5, 6], "int8", **q)
    b.add_operator("PAD", [x, pads], [y])
    x = model_input([4, 6], "int8", random_ints(rng, [4, 6], "int8"), **q)
    begin, end, strides = ([3, 1], [0, 6], [-1, 2])
    consts = [b.add_tensor([2], "int32", data=np.array(v, np.int32)) for v in (begin, end, strides)]
    y = model_output([3, 3], "int8", **q)
    b.add_operator("STRIDED_SLICE", [x, *consts], [y])

    # SVDF with int16 state (keyword_scrambled's form).
    x = model_input([1, 12], "int8", random_ints(rng, [1, 12], "int8"), scale=0.05, zero_point=-9)
    wf = b.add_tensor(
        [8, 12], "int8", data=symmetric_weights(rng, [8, 12]), scale=0.01, zero_point=0
    )
    wt = b.add_tensor(
        [8, 5], "int16", data=symmetric_weights(rng, [8, 5], "int16"), scale=0.003, zero_point=0
    )
    bias = b.add_tensor(
        [4],
        "int32",
        data=rng.integers(-5000, 5000, 4).astype(np.int32),
        scale=float(np.float32(np.float32(2e-4) * np.float32(0.003))),
        zero_point=0,
    )
    state = b.add_tensor([1, 40], "int16", scale=2e-4, zero_point=0, is_variable=True)
    y = model_output([1, 4], "int8", scale=0.05, zero_point=3)
    b.add_operator("SVDF", [x, wf, wt, bias, state], [y], {"rank": 2})

    # Integer LSTM (trained_lstm_int8's form), batch-major, with cell clipping.
    lstm = [-1] * 24
    lstm[0] = model_input(
        [1, 6, 5], "int8", random_ints(rng, [1, 6, 5], "int8"), scale=0.02, zero_point=-10
    )
    for g in range(4):
        lstm[1 + g] = b.add_tensor(
            [6, 5], "int8", data=symmetric_weights(rng, [6, 5]), scale=0.01, zero_point=0
        )
        lstm[5 + g] = b.add_tensor(
            [6, 6], "int8", data=symmetric_weights(rng, [6, 6]), scale=0.008, zero_point=0
        )
        lstm[12 + g] = b.add_tensor(
            [6], "int32", data=rng.integers(-900, 900, 6).astype(np.int32), scale=2e-4, zero_point=0
        )
    lstm[18] = b.add_tensor([1, 6], "int8", scale=0.008, zero_point=2, is_variable=True)
    lstm[19] = b.add_tensor([1, 6], "int16", scale=2.0**-11, zero_point=0, is_variable=True)
    y = model_output([1, 6, 6], "int8", scale=0.008, zero_point=2)
    options = {"fused_activation_function": "TANH", "cell_clip": 3.0}
    b.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", lstm, [y], options)

    b.set_io(inputs, outputs)
    return b.build(), arrays


@pytest.fixture(scope="module")
def flashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlashedModel]:
    model, arrays = _multi_op_model(np.random.default_rng(2026))
    device = flash_model(tmp_path_factory.mktemp("set_b"), "set_b", model, arrays)
    yield device
    device.stop()


def test_set_b_kernels_match_tflm_on_mps2(flashed: FlashedModel) -> None:
    line = flashed.run_against_tflm()
    assert len(line["output"]) == 14  # every op's output came back
    assert line["match"] is True, line
