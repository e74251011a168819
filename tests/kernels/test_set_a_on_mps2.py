"""Kernels set A on the emulated Cortex-M4 (mps2-an386 in QEMU): one model holding CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED (int8 per-tensor/per-channel, 16x8, float32),
AVERAGE/MAX_POOL_2D (int8, int16, float32), RESHAPE, SOFTMAX (int8 -> int8/int16, int16, float32),
QUANTIZE and DEQUANTIZE side by side is built with `microdeploy build`, flashed, and run on seeded
random inputs with `microdeploy run --json`, which compares every output bit for bit with TFLM's
Python interpreter (x86). This is where target differences would show: fused multiply-adds in
the float kernels, newlib's expf in softmax, 32-bit `long`.

The firmware is built twice: with the optimized int8 kernels (on this Cortex-M4 their DSP-extension
path: SXTB16/SMLAD, 4-pixel 1x1 blocks, 4-channel depthwise blocks) and with the reference
kernels only (a board definition with `kernels = "reference"`). Extra int8 ops hit the optimized
paths' branches: 1x1 with a depth that is a multiple of 4 and a pixel count that is not,
1x1 with another depth, clipped 3x3 windows, depthwise blocks of 4 channels plus a rest, FC with
a depth that is not a multiple of 4."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kernel_harness import bias_values, channel_scales, random_ints, symmetric_weights
from mps2_harness import FlashedModel, flash_model

from microdeploy.model.writer import ModelBuilder
from microdeploy.paths import repo_root

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


class _MultiOpModel:
    """Independent one-op graphs in one subgraph: every op reads its own model input."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.b = ModelBuilder()
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.arrays: list[np.ndarray] = []

    def input(self, shape: list[int], dtype: str, **q: object) -> int:
        t = self.b.add_tensor(shape, dtype, **q)
        self.inputs.append(t)
        if dtype == "float32":
            self.arrays.append(self.rng.normal(0, 2, shape).astype(np.float32))
        else:
            self.arrays.append(random_ints(self.rng, shape, dtype))
        return t

    def output(self, shape: list[int], dtype: str, **q: object) -> int:
        t = self.b.add_tensor(shape, dtype, **q)
        self.outputs.append(t)
        return t

    def const(self, data: np.ndarray, dtype: str, **q: object) -> int:
        return self.b.add_tensor(list(data.shape), dtype, data=data, **q)


def _conv_ops(m: _MultiOpModel) -> None:
    rng = m.rng
    window = {"padding": "SAME", "stride_h": 2, "stride_w": 1, "dilation_h_factor": 1}
    # int8, per-channel, dilated, RELU6.
    x = m.input([1, 9, 7, 3], "int8", scale=0.04, zero_point=-6)
    scales = channel_scales(rng, 5)
    w = m.const(symmetric_weights(rng, [5, 3, 3, 3]), "int8", scale=scales, zero_point=[0] * 5)
    data, b_scales = bias_values(rng, 5, 0.04, scales)
    bias = m.const(data, "int32", scale=b_scales, zero_point=[0] * 5)
    y = m.output([1, 5, 7, 5], "int8", scale=0.3, zero_point=4)
    options = {**window, "dilation_w_factor": 2, "fused_activation_function": "RELU6"}
    m.b.add_operator("CONV_2D", [x, w, bias], [y], options)
    # 16x8 with an int64 bias.
    x = m.input([1, 6, 6, 2], "int16", scale=2e-4, zero_point=0)
    scales = channel_scales(rng, 4)
    w = m.const(symmetric_weights(rng, [4, 2, 2, 2]), "int8", scale=scales, zero_point=[0] * 4)
    data, b_scales = bias_values(rng, 4, 2e-4, scales, "int64", magnitude=10**7)
    bias = m.const(data, "int64", scale=b_scales, zero_point=[0] * 4)
    y = m.output([1, 3, 6, 4], "int16", scale=3e-4, zero_point=0)
    m.b.add_operator("CONV_2D", [x, w, bias], [y], {**window, "dilation_w_factor": 1})
    # float32 (fused multiply-adds would change these bits).
    x = m.input([1, 7, 7, 4], "float32")
    w = m.const(rng.normal(0, 0.5, [3, 3, 3, 4]).astype(np.float32), "float32")
    bias = m.const(rng.normal(0, 1, [3]).astype(np.float32), "float32")
    y = m.output([1, 4, 7, 3], "float32")
    m.b.add_operator("CONV_2D", [x, w, bias], [y], {**window, "dilation_w_factor": 1})


def _depthwise_ops(m: _MultiOpModel) -> None:
    rng = m.rng
    options = {"padding": "VALID", "stride_h": 1, "stride_w": 2, "depth_multiplier": 2}
    x = m.input([1, 8, 8, 3], "int8", scale=0.05, zero_point=11)
    scales = channel_scales(rng, 6)
    w = m.const(symmetric_weights(rng, [1, 3, 3, 6]), "int8", scale=scales, zero_point=[0] * 6,
                quantized_dimension=3)  # fmt: skip
    data, b_scales = bias_values(rng, 6, 0.05, scales)
    bias = m.const(data, "int32", scale=b_scales, zero_point=[0] * 6)
    y = m.output([1, 6, 3, 6], "int8", scale=0.2, zero_point=-2)
    m.b.add_operator("DEPTHWISE_CONV_2D", [x, w, bias], [y], options)
    x = m.input([1, 8, 8, 3], "float32")
    w = m.const(rng.normal(0, 0.5, [1, 3, 3, 6]).astype(np.float32), "float32")
    y = m.output([1, 6, 3, 6], "float32")
    m.b.add_operator("DEPTHWISE_CONV_2D", [x, w], [y], options)


def _fully_connected_ops(m: _MultiOpModel) -> None:
    rng = m.rng
    for per_channel in (False, True):
        x = m.input([2, 20], "int8", scale=0.03, zero_point=-20)
        scales = channel_scales(rng, 7 if per_channel else 1)
        w = m.const(symmetric_weights(rng, [7, 20]), "int8", scale=scales,
                    zero_point=[0] * len(scales))  # fmt: skip
        data, b_scales = bias_values(rng, 7, 0.03, scales * (1 if per_channel else 7))
        bias = m.const(data, "int32", scale=b_scales[: len(scales)], zero_point=[0] * len(scales))
        y = m.output([2, 7], "int8", scale=0.15, zero_point=1)
        m.b.add_operator("FULLY_CONNECTED", [x, w, bias], [y])
    x = m.input([1, 24], "int16", scale=1e-4, zero_point=0)
    w = m.const(symmetric_weights(rng, [5, 24]), "int8", scale=0.01, zero_point=0)
    y = m.output([1, 5], "int16", scale=2e-4, zero_point=0)
    m.b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    x = m.input([3, 16], "float32")
    w = m.const(rng.normal(0, 0.5, [4, 16]).astype(np.float32), "float32")
    y = m.output([3, 4], "float32")
    m.b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})


def _int8_fast_path_ops(m: _MultiOpModel) -> None:
    rng = m.rng
    valid = {"padding": "VALID", "stride_h": 1, "stride_w": 1}
    same = {"padding": "SAME", "stride_h": 1, "stride_w": 1}
    for depth, out_depth in ((16, 36), (6, 5)):  # 1x1: 4-pixel DSP blocks, then the fallback
        x = m.input([1, 3, 5, depth], "int8", scale=0.05, zero_point=-128)
        scales = channel_scales(rng, out_depth)
        w = m.const(symmetric_weights(rng, [out_depth, 1, 1, depth]), "int8", scale=scales,
                    zero_point=[0] * out_depth)  # fmt: skip
        data, b_scales = bias_values(rng, out_depth, 0.05, scales)
        bias = m.const(data, "int32", scale=b_scales, zero_point=[0] * out_depth)
        y = m.output([1, 3, 5, out_depth], "int8", scale=0.4, zero_point=3)
        m.b.add_operator("CONV_2D", [x, w, bias], [y], valid)
    x = m.input([1, 5, 6, 8], "int8", scale=0.05, zero_point=127)  # clipped 3x3 windows
    scales = channel_scales(rng, 6)
    w = m.const(symmetric_weights(rng, [6, 3, 3, 8]), "int8", scale=scales, zero_point=[0] * 6)
    data, b_scales = bias_values(rng, 6, 0.05, scales)
    bias = m.const(data, "int32", scale=b_scales, zero_point=[0] * 6)
    y = m.output([1, 5, 6, 6], "int8", scale=1.0, zero_point=0)
    m.b.add_operator("CONV_2D", [x, w, bias], [y], same)
    for channels in (12, 6):  # depthwise: 4-channel DSP blocks (+ a rest of 2)
        x = m.input([1, 5, 7, channels], "int8", scale=0.05, zero_point=-100)
        scales = channel_scales(rng, channels)
        w = m.const(symmetric_weights(rng, [1, 3, 3, channels]), "int8", scale=scales,
                    zero_point=[0] * channels, quantized_dimension=3)  # fmt: skip
        data, b_scales = bias_values(rng, channels, 0.05, scales)
        bias = m.const(data, "int32", scale=b_scales, zero_point=[0] * channels)
        y = m.output([1, 5, 7, channels], "int8", scale=0.15, zero_point=-4)
        options = {**same, "depth_multiplier": 1}
        m.b.add_operator("DEPTHWISE_CONV_2D", [x, w, bias], [y], options)
    x = m.input([2, 37], "int8", scale=0.03, zero_point=90)
    scales = channel_scales(rng, 9)
    w = m.const(symmetric_weights(rng, [9, 37]), "int8", scale=scales, zero_point=[0] * 9)
    y = m.output([2, 9], "int8", scale=0.3, zero_point=-1)
    m.b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])


def _pool_reshape_ops(m: _MultiOpModel) -> None:
    options = {"padding": "SAME", "stride_h": 2, "stride_w": 2, "filter_height": 3}
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        for dtype in ("int8", "int16", "float32"):
            q = {} if dtype == "float32" else {"scale": 0.02, "zero_point": 0}
            x = m.input([1, 7, 5, 3], dtype, **q)
            y = m.output([1, 4, 3, 3], dtype, **q)
            m.b.add_operator(op, [x], [y], {**options, "filter_width": 3})
    x = m.input([2, 3, 4], "int8", scale=0.1, zero_point=0)
    shape = m.const(np.array([4, -1], np.int32), "int32")
    y = m.output([4, 6], "int8", scale=0.1, zero_point=0)
    m.b.add_operator("RESHAPE", [x, shape], [y])


def _softmax_quantize_ops(m: _MultiOpModel) -> None:
    for in_dtype, in_scale, out_dtype, out_q in (
        ("int8", 0.1, "int8", (1 / 256, -128)),
        ("int8", 0.05, "int16", (1 / 65536, -32768)),
        ("int16", 5e-4, "int16", (1 / 32768, 0)),
    ):
        x = m.input([3, 10], in_dtype, scale=in_scale, zero_point=0)
        y = m.output([3, 10], out_dtype, scale=out_q[0], zero_point=out_q[1])
        m.b.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
    x = m.input([4, 25], "float32")
    y = m.output([4, 25], "float32")
    m.b.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
    x = m.input([50], "float32")
    y = m.output([50], "int8", scale=0.03, zero_point=-3)
    m.b.add_operator("QUANTIZE", [x], [y])
    x = m.input([50], "int16", scale=3e-4, zero_point=0)
    y = m.output([50], "int8", scale=0.05, zero_point=7)
    m.b.add_operator("QUANTIZE", [x], [y])
    x = m.input([50], "int8", scale=0.05, zero_point=7)
    y = m.output([50], "float32")
    m.b.add_operator("DEQUANTIZE", [x], [y])


def _multi_op_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], int]:
    m = _MultiOpModel(rng)
    _conv_ops(m)
    _depthwise_ops(m)
    _fully_connected_ops(m)
    _int8_fast_path_ops(m)
    _pool_reshape_ops(m)
    _softmax_quantize_ops(m)
    m.b.set_io(m.inputs, m.outputs)
    return m.b.build(), m.arrays, len(m.outputs)


def _reference_board(folder: Path) -> str:
    """mps2-an386 with `kernels = "reference"` (-DMD_KERNELS_REFERENCE), as a board definition
    in `folder`."""
    name = "mps2-an386-reference"
    text = (repo_root() / "board_defs" / "mps2-an386.toml").read_text()
    text = text.replace('name = "mps2-an386"', f'name = "{name}"', 1)
    text = re.sub(r"(?m)^kernels = .*$", 'kernels = "reference"', text)
    assert 'kernels = "reference"' in text
    (folder / f"{name}.toml").write_text(text)
    return name


@pytest.fixture(scope="module", params=("optimized", "reference"))
def flashed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FlashedModel, int]]:
    root = tmp_path_factory.mktemp("set_a")
    model, arrays, num_outputs = _multi_op_model(np.random.default_rng(2027))
    board, env = "mps2-an386", {}
    if request.param == "reference":
        (root / "boards").mkdir()
        board = _reference_board(root / "boards")
        env = {"MICRODEPLOY_BOARD_PATH": str(root / "boards")}
    device = flash_model(root, "set_a", model, arrays, board=board, env=env)
    yield device, num_outputs
    device.stop()


def test_set_a_kernels_match_tflm_on_mps2(flashed: tuple[FlashedModel, int]) -> None:
    device, num_outputs = flashed
    line = device.run_against_tflm()
    assert len(line["output"]) == num_outputs  # every op's output came back
    assert line["match"] is True, line
