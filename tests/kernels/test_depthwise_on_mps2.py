"""The Cortex-M4 DSP path of int8 DEPTHWISE_CONV_2D (runtime_cpp/src/md/kernels/
depthwise_conv_2d_opt.h: 3x3 windows with the taps written out over pre-widened filter pairs,
and the three-instruction requantization of int8_opt.h) against TFLM, on the emulated board
(mps2-an386 in QEMU, the board's `arm-dsp` kernels).

One model holds many independent DEPTHWISE_CONV_2D ops of random shapes, each reading its own
model input: 3x3 windows (and a few 2x2 and 5x3 ones), depth multipliers 1, 4 and 8 (the
four-channel blocks, broadcast or not) and 2 (the generic loop), channel counts that leave 0-3
channels after the blocks and cross the 32-channel chunk, strides 1 and 2, SAME and VALID
padding (clipped windows at the borders), per-channel and per-tensor scales, every fused
activation, input/output zero points at -128 and 127, no bias, and "dead" channels as in
vww_96_int8 (tiny filter scales, +-2^30 biases: right shifts beyond 22 or a zero multiplier,
accumulators that may not be doubled). Built with `microdeploy build`, run with
`microdeploy run --json`, which compares every output bit for bit with TFLM's Python
interpreter."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from kernel_harness import (
    bias_values,
    channel_scales,
    output_scale_for,
    random_ints,
    random_scale,
    symmetric_weights,
    window_out_size,
)
from mps2_harness import FlashedModel, flash_model

from microdeploy.model.writer import ModelBuilder

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
NUM_OPS = 24


def _depthwise_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    b = ModelBuilder()
    inputs: list[int] = []
    outputs: list[int] = []
    arrays: list[np.ndarray] = []
    labels: list[str] = []
    for i in range(NUM_OPS):
        dm = int(rng.choice([1, 1, 1, 4, 8, 2]))
        in_depth = int(rng.integers(1, 40 if dm == 1 else 6))
        channels = in_depth * dm
        fh, fw = (3, 3) if i % 6 != 5 else ((2, 2) if i % 12 == 5 else (5, 3))
        stride = int(rng.choice([1, 2]))
        padding = "SAME" if i % 3 != 2 else "VALID"
        h, w = int(rng.integers(fh, fh + 6)), int(rng.integers(fw, fw + 6))
        out_h = window_out_size(padding, h, fh, stride, 1)
        out_w = window_out_size(padding, w, fw, stride, 1)
        per_channel = i % 4 != 0
        activation = ACTIVATIONS[i % len(ACTIVATIONS)]
        zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        in_scale = random_scale(rng, 5e-3, 5e-2)
        x = b.add_tensor([1, h, w, in_depth], "int8", scale=in_scale, zero_point=zp_in)
        arrays.append(random_ints(rng, [1, h, w, in_depth], "int8"))
        scales = channel_scales(rng, channels if per_channel else 1)
        live_scale = float(np.median(scales))  # for the output scale
        dead = per_channel and i % 5 == 1 and channels > 1
        if dead:
            for c in rng.choice(channels, size=min(2, channels - 1), replace=False):
                scales[c] = float(np.float32(rng.choice([3e-9, 1e-13])))
        weights = symmetric_weights(rng, [1, fh, fw, channels])
        wt = b.add_tensor(
            [1, fh, fw, channels], "int8", data=weights, scale=scales,
            zero_point=[0] * len(scales), quantized_dimension=3,
        )  # fmt: skip
        op_inputs = [x, wt]
        if i % 7 != 6:
            data, b_scales = bias_values(
                rng, channels, in_scale, scales * (1 if per_channel else channels)
            )
            if dead:
                data[scales.index(min(scales))] = rng.choice([-(2**30), 2**30])
            op_inputs.append(
                b.add_tensor(
                    [channels],
                    "int32",
                    data=data,
                    scale=b_scales[: len(scales)],
                    zero_point=[0] * len(scales),
                )  # fmt: skip
            )
        # No bias: two inputs (TFLM's Python interpreter crashes on a -1 bias index here).
        out_scale = output_scale_for(in_scale, live_scale, fh * fw, rng)
        y = b.add_tensor([1, out_h, out_w, channels], "int8", scale=out_scale, zero_point=zp_out)
        options = {"padding": padding, "stride_h": stride, "stride_w": stride,
                   "depth_multiplier": dm, "fused_activation_function": activation}  # fmt: skip
        b.add_operator("DEPTHWISE_CONV_2D", op_inputs, [y], options)
        inputs.append(x)
        outputs.append(y)
        labels.append(
            f"op {i}: 1x{h}x{w}x{in_depth} dm {dm} {fh}x{fw}/{stride} {padding} -> {channels}, "
            f"per_channel={per_channel}, {activation}, zp {zp_in}/{zp_out}, dead {dead}"
        )
    b.set_io(inputs, outputs)
    return b.build(), arrays, labels


@pytest.fixture(scope="module")
def flashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlashedModel, list[str]]]:
    model, arrays, labels = _depthwise_model(np.random.default_rng(11))
    device = flash_model(tmp_path_factory.mktemp("depthwise"), "depthwise", model, arrays)
    yield device, labels
    device.stop()


def test_random_depthwise_convs_match_tflm_on_mps2(flashed: tuple[FlashedModel, list[str]]) -> None:
    device, labels = flashed
    line = device.run_against_tflm()
    assert len(line["output"]) == NUM_OPS  # every op's output came back
    assert line["match"] is True, "\n".join(labels) + "\n" + json.dumps(line)[:2000]
