"""The Cortex-M4 DSP path of int8 CONV_2D (runtime_cpp/src/md/kernels/pointwise_dsp.h: 1x1
convolutions, and other windows gathered into rows, im2col) against TFLM, on the emulated board
(mps2-an386 in QEMU, the board's `arm-dsp` kernels).

One model holds many independent 1x1 CONV_2D ops of random shapes, each reading its own model
input: depths that are multiples of 4 up to 256 (the DSP path: rounds of 16, 8 and 4 values),
and a few that are not (the fallback), odd and even channel counts below and above the
32-channel chunk, pixel counts that leave 0-3 pixels after the blocks of four (batches of 2
too), per-channel and per-tensor filter scales, every fused activation (clamps narrower than
int8 and the full range), input/output zero points at -128 and 127, no bias, biases too large
to double, and "dead" channels as in vww_96_int8 (filter scales of 1e-9 and below: right shifts
beyond 22 or a zero multiplier, biases of +-2^30). Windowed ops (random filter sizes, strides,
dilations, SAME/VALID: windows clipped at the borders; window sizes that are and are not
multiples of 4, and beyond the 256 values the gathered rows hold) take the im2col form. The
firmware is built with `microdeploy build` and run with `microdeploy run --json`, which compares
every output bit for bit with TFLM's Python interpreter."""

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
    random_window,
    symmetric_weights,
    window_out_size,
)
from mps2_harness import FlashedModel, flash_model

from microdeploy.model.writer import ModelBuilder

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

DSP_DEPTHS = (4, 8, 12, 16, 20, 24, 28, 36, 44, 64, 100, 128, 132, 256)
OTHER_DEPTHS = (3, 6, 13)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
NUM_RANDOM_OPS = 26
NUM_WINDOW_OPS = 12
# The four-pixel blocks' variants, depths 8, 16 and 32 (written out) and 12, 48, 112, 128 (the
# loop: rounds of 32, then 16, 8, 4), with 4k + 1, 4k + 2 and 4k + 3 pixels (a last single
# pixel, its loop in rounds of 16, then 8, 4; a last block of 2 or 3 pixels that repeats
# pixels), batches too: (batches, h, w, depth, channels).
BLOCK_SHAPES = (
    (1, 1, 5, 8, 16), (1, 2, 3, 8, 19), (1, 1, 7, 8, 33), (1, 2, 4, 8, 7),
    (1, 3, 3, 16, 32), (2, 1, 3, 16, 21), (1, 1, 6, 16, 65), (1, 1, 2, 16, 3),
    (1, 1, 3, 12, 9), (1, 2, 5, 32, 40), (1, 3, 2, 32, 64), (1, 1, 3, 128, 70),
    (1, 3, 3, 128, 17), (2, 1, 1, 8, 5), (1, 1, 6, 48, 11), (1, 2, 2, 112, 9),
    (1, 1, 1, 20, 13), (1, 1, 5, 44, 6),
)  # fmt: skip
# Windows whose gathered rows are 8 or 16 values (the written-out depths), stride 1, VALID and
# SAME, 1-3 pixels left after the blocks: (in_h, in_w, f_h, f_w, depth).
BLOCK_WINDOWS = ((3, 3, 2, 2, 2), (2, 5, 2, 2, 4), (1, 8, 1, 2, 8), (4, 5, 2, 4, 2))
# Channels of three kinds interleaved (output offset fused; right shift beyond 22, the offset
# added after the shift; a bias too large to double): (batches, h, w, depth, channels).
MIXED_SHAPES = ((1, 1, 5, 16, 13), (1, 3, 3, 128, 20), (1, 2, 3, 40, 9), (1, 1, 1, 64, 7))
# The shallow paths (pointwise_shallow_dsp.h: depth 8 one pixel at a time; depths up to 32 with
# widened filters, as many channels as the pixel buffer holds, the rest in the four-pixel block)
# and their fallbacks (odd channel counts, narrower clamps): (batches, h, w, depth, channels, i),
# i picking _pointwise_op's variant (multiples of 4: no activation; i % 3: per-channel scales;
# i % 5 == 4: no bias; 16: weights of -128; 1: dead channels, 2: RELU6).
SHALLOW_SHAPES = (
    (1, 1, 1, 8, 2, 0), (1, 1, 3, 8, 4, 4), (1, 3, 7, 8, 16, 8), (2, 1, 5, 8, 64, 12),
    (1, 2, 3, 8, 66, 16), (1, 1, 48, 8, 16, 20), (1, 1, 2, 8, 10, 24), (1, 2, 5, 8, 16, 2),
    (1, 1, 5, 8, 12, 1), (1, 1, 5, 4, 6, 0), (1, 2, 5, 12, 14, 4), (1, 3, 3, 16, 32, 8),
    (1, 2, 7, 20, 18, 12), (1, 3, 4, 32, 30, 16), (1, 1, 9, 28, 64, 20), (1, 2, 2, 32, 33, 24),
    (1, 1, 6, 16, 2, 28), (1, 1, 1, 16, 8, 0), (2, 3, 1, 24, 40, 4),
)  # fmt: skip
# The deep path (pointwise_shallow_dsp.h's PointwiseDeepRuns: depths above 32 with filters
# widened per pass, where DeepWidePays): channel counts that are not multiples of a pass (depth
# 64: 12 + 16 channels, depth 36: 24 + 28, depth 48: 17 + 21, depth 80: 8 + 12, depth 100:
# 6 + 10), two chunks (70), a last single pixel or block of 2 or 3, batches, and the ops it
# leaves to the four-pixel block (RELU6, dead channels, depth 128): as SHALLOW_SHAPES.
DEEP_SHAPES = (
    (1, 6, 6, 64, 64, 8), (1, 5, 5, 64, 30, 4), (1, 3, 7, 64, 13, 0), (2, 3, 3, 36, 53, 12),
    (1, 1, 15, 48, 40, 16), (1, 3, 9, 80, 21, 20), (1, 7, 7, 100, 17, 28),
    (1, 4, 10, 64, 70, 32), (1, 4, 10, 64, 70, 2), (1, 6, 6, 64, 20, 5), (1, 2, 20, 128, 24, 40),
)  # fmt: skip
# Per-channel right shifts spread over 1..22 (all fused), depth and channels as the shallow
# and deep paths take them: (batches, h, w, depth, channels).
SHIFT_SPREAD_SHAPES = ((1, 2, 7, 8, 22), (1, 3, 3, 16, 22), (1, 1, 5, 32, 22), (1, 5, 6, 64, 22))
NUM_OPS = (
    NUM_RANDOM_OPS + NUM_WINDOW_OPS + 1 + len(BLOCK_SHAPES) + len(BLOCK_WINDOWS)
    + len(MIXED_SHAPES) + len(SHALLOW_SHAPES) + len(DEEP_SHAPES) + len(SHIFT_SPREAD_SHAPES)
)  # fmt: skip


def _pointwise_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    b = ModelBuilder()
    inputs: list[int] = []
    outputs: list[int] = []
    arrays: list[np.ndarray] = []
    labels: list[str] = []
    for i in range(NUM_RANDOM_OPS):
        depth = int(rng.choice(OTHER_DEPTHS if i % 9 == 8 else DSP_DEPTHS))
        channels = int(rng.integers(1, 71))
        batches = 2 if i % 7 == 3 else 1
        h, w = int(rng.integers(1, 5)), int(rng.integers(1, 8))
        _pointwise_op(b, rng, i, (batches, h, w, depth, channels), inputs, outputs, arrays, labels)
    for i in range(NUM_WINDOW_OPS):
        _window_op(b, rng, i, inputs, outputs, arrays, labels)
    _big_bias_op(b, rng, inputs, outputs, arrays, labels)
    for i, shape in enumerate(BLOCK_SHAPES):
        _pointwise_op(b, rng, i, shape, inputs, outputs, arrays, labels)
    for i, shape in enumerate(BLOCK_WINDOWS):
        window = _stride1_window(*shape[:4])
        _window_op(b, rng, i, inputs, outputs, arrays, labels, fixed=(window, shape[4]))
    for shape in MIXED_SHAPES:
        _mixed_kinds_op(b, rng, shape, inputs, outputs, arrays, labels)
    for *shape, i in SHALLOW_SHAPES:
        _pointwise_op(b, rng, i, tuple(shape), inputs, outputs, arrays, labels)
    for *shape, i in DEEP_SHAPES:
        _pointwise_op(b, rng, i, tuple(shape), inputs, outputs, arrays, labels)
    for shape in SHIFT_SPREAD_SHAPES:
        _shift_spread_op(b, rng, shape, inputs, outputs, arrays, labels)
    b.set_io(inputs, outputs)
    return b.build(), arrays, labels


def _pointwise_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    i: int,
    shape: tuple[int, int, int, int, int],
    inputs: list[int],
    outputs: list[int],
    arrays: list[np.ndarray],
    labels: list[str],
) -> None:
    """A random 1x1 CONV_2D of shape (batches, h, w, depth, channels); `i` picks the variant
    (per-channel or not, activation, dead channels, bias)."""
    batches, h, w, depth, channels = shape
    per_channel = i % 3 != 0
    activation = ACTIVATIONS[i % len(ACTIVATIONS)]
    zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    in_scale = random_scale(rng, 5e-3, 5e-2)
    x = b.add_tensor([batches, h, w, depth], "int8", scale=in_scale, zero_point=zp_in)
    arrays.append(random_ints(rng, [batches, h, w, depth], "int8"))
    scales = channel_scales(rng, channels if per_channel else 1)
    dead = per_channel and i % 4 == 1  # vww_96_int8's dead channels: tiny scale, bias 2^30
    if dead:
        for c in rng.choice(channels, size=min(3, channels), replace=False):
            scales[c] = float(np.float32(rng.choice([3e-9, 2e-11, 1e-13])))
    weights = symmetric_weights(rng, [channels, 1, 1, depth])
    if i % 11 == 5:
        weights[:, 0, 0, 0] = -128  # the full int8 range, not just TFLite's symmetric one
    wt = b.add_tensor(
        [channels, 1, 1, depth], "int8", data=weights, scale=scales,
        zero_point=[0] * len(scales),
    )  # fmt: skip
    op_inputs = [x, wt]
    bias_note = "none"
    if i % 5 != 4:
        magnitude = 2**30 - 1 if i % 13 == 6 else 20000  # 2^30 - 1: too large to double
        data, b_scales = bias_values(
            rng, channels, in_scale, scales * (1 if per_channel else channels), "int32",
            magnitude=magnitude,
        )  # fmt: skip
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
        bias_note = f"|b|<={magnitude}"
    else:
        op_inputs.append(-1)
    out_scale = output_scale_for(in_scale, float(np.median(scales)), depth, rng)
    y = b.add_tensor([batches, h, w, channels], "int8", scale=out_scale, zero_point=zp_out)
    options = {"padding": "VALID", "stride_h": 1, "stride_w": 1,
               "fused_activation_function": activation}  # fmt: skip
    b.add_operator("CONV_2D", op_inputs, [y], options)
    inputs.append(x)
    outputs.append(y)
    labels.append(
        f"op {i}: {batches}x{h}x{w}x{depth} -> {channels}, per_channel={per_channel}, "
        f"{activation}, zp {zp_in}/{zp_out}, bias {bias_note}, dead channels {dead}"
    )


def _window_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    i: int,
    inputs: list[int],
    outputs: list[int],
    arrays: list[np.ndarray],
    labels: list[str],
    fixed: tuple[dict[str, int | str], int] | None = None,
) -> None:
    """A random windowed CONV_2D: filter values per channel up to about 300 (the gathered rows
    hold 256), odd channel counts, every activation. `fixed`: the window and depth instead."""
    if fixed is None:
        w = random_window(rng, max_size=9, max_filter=4)
        depth = int(rng.integers(1, 21))
    else:
        w, depth = fixed
    channels = int(rng.integers(1, 40))
    activation = ACTIVATIONS[i % len(ACTIVATIONS)]
    zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    zp_out = int(rng.integers(-128, 128))
    in_scale = random_scale(rng, 5e-3, 5e-2)
    x = b.add_tensor([1, w["in_h"], w["in_w"], depth], "int8", scale=in_scale, zero_point=zp_in)
    arrays.append(random_ints(rng, [1, w["in_h"], w["in_w"], depth], "int8"))
    scales = channel_scales(rng, channels)
    shape = [channels, w["f_h"], w["f_w"], depth]
    wt = b.add_tensor(shape, "int8", data=symmetric_weights(rng, shape), scale=scales,
                      zero_point=[0] * channels)  # fmt: skip
    data, b_scales = bias_values(rng, channels, in_scale, scales)
    bias = b.add_tensor([channels], "int32", data=data, scale=b_scales, zero_point=[0] * channels)
    taps = w["f_h"] * w["f_w"] * depth
    out_scale = output_scale_for(in_scale, float(np.median(scales)), taps, rng)
    y = b.add_tensor([1, w["out_h"], w["out_w"], channels], "int8", scale=out_scale,
                     zero_point=zp_out)  # fmt: skip
    options = {"padding": w["padding"], "stride_h": w["s_h"], "stride_w": w["s_w"],
               "dilation_h_factor": w["d_h"], "dilation_w_factor": w["d_w"],
               "fused_activation_function": activation}  # fmt: skip
    b.add_operator("CONV_2D", [x, wt, bias], [y], options)
    inputs.append(x)
    outputs.append(y)
    labels.append(f"window op {i}: depth {depth} -> {channels}, {w}, {activation}")


def _stride1_window(in_h: int, in_w: int, f_h: int, f_w: int) -> dict[str, int | str]:
    """A stride-1 window, SAME when the filter is square (clipped at the borders), else VALID."""
    padding = "SAME" if f_h == f_w else "VALID"
    return dict(
        in_h=in_h, in_w=in_w, f_h=f_h, f_w=f_w, s_h=1, s_w=1, d_h=1, d_w=1, padding=padding,
        out_h=window_out_size(padding, in_h, f_h, 1, 1),
        out_w=window_out_size(padding, in_w, f_w, 1, 1),
    )  # fmt: skip


def _per_channel_1x1_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    x: int,
    shape: tuple[int, int, int, int, int],
    scales: list[float],
    bias_data: np.ndarray,
    in_scale: float,
    out_scale: float,
    zp_out: int,
) -> int:
    """A 1x1 VALID CONV_2D on input x: random symmetric weights with per-channel `scales`, the
    int32 `bias_data` (scales in_scale x scale); returns its output tensor."""
    batches, h, w, depth, channels = shape
    weights = symmetric_weights(rng, [channels, 1, 1, depth])
    wt = b.add_tensor([channels, 1, 1, depth], "int8", data=weights, scale=scales,
                      zero_point=[0] * channels)  # fmt: skip
    b_scales = [float(np.float32(in_scale * s)) for s in scales]
    bias = b.add_tensor([channels], "int32", data=bias_data, scale=b_scales,
                        zero_point=[0] * channels)  # fmt: skip
    y = b.add_tensor([batches, h, w, channels], "int8", scale=out_scale, zero_point=zp_out)
    b.add_operator("CONV_2D", [x, wt, bias], [y], {"padding": "VALID", "stride_h": 1,
                                                    "stride_w": 1})  # fmt: skip
    return y


def _mixed_kinds_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    shape: tuple[int, int, int, int, int],
    inputs: list[int],
    outputs: list[int],
    arrays: list[np.ndarray],
    labels: list[str],
) -> None:
    """A 1x1 CONV_2D (no activation: the full int8 range) whose channels cycle through the DSP
    path's kinds: ordinary scales; requantization multipliers of 2^-24..2^-27 (right shifts of
    23..26, beyond the fused form's 22) with biases up to 2^28, so outputs still vary; and,
    every sixth channel, a bias of +-(2^30 - 1), too large to double."""
    batches, h, w, depth, channels = shape
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = random_scale(rng, 5e-3, 5e-2)
    x = b.add_tensor([batches, h, w, depth], "int8", scale=in_scale, zero_point=zp_in)
    arrays.append(random_ints(rng, [batches, h, w, depth], "int8"))
    scales = channel_scales(rng, channels)
    out_scale = output_scale_for(in_scale, float(np.median(scales)), depth, rng)
    data = rng.integers(-20000, 20000, size=channels, endpoint=True).astype(np.int64)
    for c in range(channels):
        if c % 3 == 1:  # multiplier about 2^-(24 + c % 4): right shift 23 + c % 4
            target = 2.0 ** -(24 + c % 4) * 1.3
            scales[c] = float(np.float32(target * out_scale / in_scale))
            data[c] = rng.integers(-(2**28), 2**28)
        elif c % 6 == 2:
            data[c] = (2**30 - 1) * (1 if c % 4 == 2 else -1)
    y = _per_channel_1x1_op(
        b, rng, x, shape, scales, data.astype(np.int32), in_scale, out_scale, zp_out
    )
    inputs.append(x)
    outputs.append(y)
    labels.append(f"mixed-kinds op: {shape}, zp {zp_in}/{zp_out}")


def _shift_spread_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    shape: tuple[int, int, int, int, int],
    inputs: list[int],
    outputs: list[int],
    arrays: list[np.ndarray],
    labels: list[str],
) -> None:
    """A 1x1 CONV_2D (no activation) whose channel c has a requantization multiplier of about
    2^-(c + 2) x 1.3: right shifts from 1 to 22 (the fused form's limit), each channel's bias
    scaled up with it (up to 2^26) so that its outputs still vary."""
    batches, h, w, depth, channels = shape
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = random_scale(rng, 5e-3, 5e-2)
    x = b.add_tensor([batches, h, w, depth], "int8", scale=in_scale, zero_point=zp_in)
    arrays.append(random_ints(rng, [batches, h, w, depth], "int8"))
    out_scale = random_scale(rng, 5e-3, 5e-2)
    scales = [
        float(np.float32(2.0 ** -((c % 22) + 2) * 1.3 * out_scale / in_scale))
        for c in range(channels)
    ]
    data = np.array(
        [int(rng.integers(-(2 ** min(26, c % 22 + 6)), 2 ** min(26, c % 22 + 6)))
         for c in range(channels)], np.int32,
    )  # fmt: skip
    y = _per_channel_1x1_op(b, rng, x, shape, scales, data, in_scale, out_scale, zp_out)
    inputs.append(x)
    outputs.append(y)
    labels.append(f"shift-spread op: {shape}, zp {zp_in}/{zp_out}")


def _big_bias_op(
    b: ModelBuilder,
    rng: np.random.Generator,
    inputs: list[int],
    outputs: list[int],
    arrays: list[np.ndarray],
    labels: list[str],
) -> None:
    """Biases of +-(2^30 - 1) (too large to double) where the sum still shows in the output:
    depth 256, weights near 127, inputs far above the zero point -128, and a scale of about
    1e-7 per accumulator unit: the bias alone gives +-107, the sum adds about 0.7."""
    depth, channels = 256, 6
    x = b.add_tensor([1, 3, 3, depth], "int8", scale=0.01, zero_point=-128)
    arrays.append(rng.integers(100, 127, size=(1, 3, 3, depth), endpoint=True).astype("int8"))
    weights = rng.integers(100, 127, size=(channels, 1, 1, depth), endpoint=True)
    weights[1::2] *= -1
    scales = [0.01] * channels
    wt = b.add_tensor([channels, 1, 1, depth], "int8", data=weights.astype("int8"),
                      scale=scales, zero_point=[0] * channels)  # fmt: skip
    data = np.array([(2**30 - 1) * (-1 if c % 2 else 1) for c in range(channels)], np.int32)
    bias = b.add_tensor([channels], "int32", data=data, scale=[1e-4] * channels,
                        zero_point=[0] * channels)  # fmt: skip
    y = b.add_tensor([1, 3, 3, channels], "int8", scale=float(np.float32(1e-4 / 1e-7)),
                     zero_point=0)  # fmt: skip
    b.add_operator("CONV_2D", [x, wt, bias], [y], {"padding": "VALID", "stride_h": 1,
                                                    "stride_w": 1})  # fmt: skip
    inputs.append(x)
    outputs.append(y)
    labels.append("big-bias op: 1x3x3x256 -> 6, biases +-(2^30 - 1)")


@pytest.fixture(scope="module")
def flashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlashedModel, list[str]]]:
    model, arrays, labels = _pointwise_model(np.random.default_rng(7))
    device = flash_model(tmp_path_factory.mktemp("pointwise"), "pointwise", model, arrays)
    yield device, labels
    device.stop()


def test_random_pointwise_convs_match_tflm_on_mps2(flashed: tuple[FlashedModel, list[str]]) -> None:
    device, labels = flashed
    line = device.run_against_tflm()
    assert len(line["output"]) == NUM_OPS  # every op's output came back
    assert line["match"] is True, "\n".join(labels) + "\n" + json.dumps(line)[:2000]
