"""The optimized int8 paths of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
(runtime_cpp/src/md/kernels/*_opt.h) where they branch: 1x1 convolutions (matrix product;
4-pixel blocks on the DSP path, depth a multiple of 4 up to 256), depths and channel counts
around the block sizes (4, 8, 16, 32-channel chunks), odd widths, windows clipped by padding
(the zero point is folded into a per-channel base only for windows inside the input), dilation,
depth multipliers, zero points at the ends of the int8 range and weights including -128.
x86 hosts run SSE2 versions of these paths (kernels/int8_sse2.h: the input offset added to
int16 inputs, PMADDWD over pairs of values or, in depthwise, pairs of taps): the randomly
shaped cases at the end cover their branches (depth tails of 16/8/1 values, 4-channel groups
and leftovers, depth multipliers 1 / 4k / 8k across channel chunks, odd tap counts, windows
larger than the patch, tap counts beyond the depthwise table). Each case runs with every
kernel flavour (optimized, reference, and the plain C++ "portable" one) and must be
bit-identical with TFLM."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from kernel_harness import (
    all_kernels,
    assert_same_as_tflm,
    bias_values,
    channel_scales,
    output_scale_for,
    random_ints,
    random_scale,
    window_out_size,
)

from microdeploy import paths
from microdeploy.model.writer import ModelBuilder

_ZERO_POINTS = (-128, 127, 0, -5)


def _weights(rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    """Uniform over the whole int8 range, so -128 (outside TFLite's symmetric range) occurs."""
    return random_ints(rng, shape, "int8")


def _conv(
    rng: np.random.Generator,
    *,
    op: str,
    in_hw: tuple[int, int],
    in_depth: int,
    out_depth: int,
    filter_hw: tuple[int, int],
    stride: int,
    padding: str,
    dilation: int,
    input_zp: int,
    batches: int = 1,
    per_channel: bool = True,
) -> tuple[bytes, np.ndarray, str]:
    depthwise = op == "DEPTHWISE_CONV_2D"
    d_mult = out_depth // in_depth if depthwise else 1
    out_h = window_out_size(padding, in_hw[0], filter_hw[0], stride, dilation)
    out_w = window_out_size(padding, in_hw[1], filter_hw[1], stride, dilation)
    input_scale = random_scale(rng, 0.005, 0.1)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    terms = filter_hw[0] * filter_hw[1] * (1 if depthwise else in_depth)
    output_scale = output_scale_for(input_scale, float(np.mean(f_scales)), terms, rng)
    b = ModelBuilder()
    x = b.add_tensor([batches, *in_hw, in_depth], "int8", scale=input_scale, zero_point=input_zp)
    if depthwise:
        shape, qdim = [1, *filter_hw, out_depth], 3
    else:
        shape, qdim = [out_depth, *filter_hw, in_depth], 0
    f = b.add_tensor(
        shape,
        "int8",
        data=_weights(rng, shape),
        scale=f_scales,
        zero_point=[0] * len(f_scales),
        quantized_dimension=qdim,
    )
    scales = f_scales if per_channel else f_scales * out_depth
    data, b_scales = bias_values(rng, out_depth, input_scale, scales)
    bias = b.add_tensor([out_depth], "int32", data=data, scale=b_scales, zero_point=[0] * out_depth)
    y = b.add_tensor(
        [batches, out_h, out_w, out_depth],
        "int8",
        scale=output_scale,
        zero_point=int(rng.integers(-128, 128)),
    )
    options: dict = {
        "padding": padding,
        "stride_h": stride,
        "stride_w": stride,
        "dilation_h_factor": dilation,
        "dilation_w_factor": dilation,
        "fused_activation_function": "NONE",
    }
    if depthwise:
        options["depth_multiplier"] = d_mult
    b.add_operator(op, [x, f, bias], [y], options)
    b.set_io([x], [y])
    x_data = random_ints(rng, [batches, *in_hw, in_depth], "int8")
    label = (
        f"{op} in={in_hw}x{in_depth} out_depth={out_depth} filter={filter_hw} s={stride}"
        f" {padding} d={dilation} zp={input_zp} batches={batches} pc={per_channel}"
    )
    return b.build(), x_data, label


# 1x1 convolutions: depth around the DSP block (multiples of 4 up to 256, then the
# fallback), pixel counts that leave 1-3 pixels after the 4-pixel blocks, chunks of 32.
_POINTWISE = [
    # (in_hw, in_depth, out_depth, batches)
    ((1, 1), 1, 1, 1),
    ((3, 5), 3, 5, 1),
    ((7, 7), 4, 33, 1),
    ((5, 3), 8, 16, 2),
    ((2, 3), 13, 70, 1),
    ((6, 6), 16, 32, 1),
    ((3, 3), 17, 8, 1),
    ((4, 5), 64, 40, 1),
    ((3, 3), 256, 20, 1),
    ((2, 3), 260, 9, 1),
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_POINTWISE)))
def test_pointwise_conv(case: int, kernels: str) -> None:
    in_hw, in_depth, out_depth, batches = _POINTWISE[case]
    rng = np.random.default_rng(7000 + case)
    model, x, label = _conv(
        rng,
        op="CONV_2D",
        in_hw=in_hw,
        in_depth=in_depth,
        out_depth=out_depth,
        filter_hw=(1, 1),
        stride=1,
        padding="VALID",
        dilation=1,
        input_zp=_ZERO_POINTS[case % len(_ZERO_POINTS)],
        batches=batches,
        per_channel=case % 3 != 1,
    )
    assert_same_as_tflm(model, [x], label, kernels=kernels)


# Windowed convolutions: clipped windows on every border, odd widths, strides, dilation.
_WINDOWED = [
    # (in_hw, in_depth, out_depth, filter_hw, stride, padding, dilation)
    ((7, 9), 3, 8, (3, 3), 2, "SAME", 1),
    ((5, 5), 1, 4, (3, 3), 1, "SAME", 1),
    ((6, 7), 5, 6, (5, 3), 1, "SAME", 1),
    ((8, 6), 4, 33, (3, 3), 1, "VALID", 2),
    ((9, 9), 2, 3, (2, 4), 3, "SAME", 2),
    ((4, 4), 8, 5, (1, 1), 2, "SAME", 1),
    ((3, 3), 6, 7, (4, 4), 1, "SAME", 1),
    ((11, 5), 16, 12, (3, 3), 2, "VALID", 1),
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_WINDOWED)))
def test_windowed_conv(case: int, kernels: str) -> None:
    in_hw, in_depth, out_depth, filter_hw, stride, padding, dilation = _WINDOWED[case]
    rng = np.random.default_rng(7100 + case)
    model, x, label = _conv(
        rng,
        op="CONV_2D",
        in_hw=in_hw,
        in_depth=in_depth,
        out_depth=out_depth,
        filter_hw=filter_hw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_zp=_ZERO_POINTS[case % len(_ZERO_POINTS)],
        batches=1 + case % 2,
        per_channel=case % 3 != 2,
    )
    assert_same_as_tflm(model, [x], label, kernels=kernels)


# Depthwise: channel counts around the 4-channel DSP block and the 8/16/32 vector rows,
# more channels than one chunk, depth multipliers, clipped windows.
_DEPTHWISE = [
    # (in_hw, in_depth, depth_multiplier, filter_hw, stride, padding, dilation)
    ((7, 7), 1, 8, (3, 3), 2, "SAME", 1),
    ((6, 5), 3, 1, (3, 3), 1, "SAME", 1),
    ((5, 7), 4, 1, (3, 3), 1, "SAME", 1),
    ((5, 5), 5, 3, (3, 3), 2, "SAME", 1),
    ((6, 6), 8, 1, (3, 3), 2, "VALID", 1),
    ((4, 9), 16, 1, (3, 3), 1, "SAME", 1),
    ((5, 5), 17, 1, (5, 5), 1, "SAME", 1),
    ((4, 4), 32, 1, (3, 3), 1, "SAME", 1),
    ((3, 5), 33, 2, (3, 3), 1, "SAME", 1),
    ((7, 6), 40, 1, (3, 3), 1, "VALID", 2),
    ((3, 3), 70, 1, (2, 2), 1, "SAME", 1),
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_DEPTHWISE)))
def test_depthwise_conv(case: int, kernels: str) -> None:
    in_hw, in_depth, d_mult, filter_hw, stride, padding, dilation = _DEPTHWISE[case]
    rng = np.random.default_rng(7200 + case)
    model, x, label = _conv(
        rng,
        op="DEPTHWISE_CONV_2D",
        in_hw=in_hw,
        in_depth=in_depth,
        out_depth=in_depth * d_mult,
        filter_hw=filter_hw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_zp=_ZERO_POINTS[case % len(_ZERO_POINTS)],
        batches=1 + case % 2,
        per_channel=case % 4 != 3,
    )
    assert_same_as_tflm(model, [x], label, kernels=kernels)


_FULLY_CONNECTED = [
    # (batches, accum_depth, out_depth)
    (1, 1, 1),
    (1, 3, 5),
    (2, 4, 33),
    (3, 17, 8),
    (1, 64, 70),
    (1, 300, 12),
    (2, 1000, 3),
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_FULLY_CONNECTED)))
def test_fully_connected(case: int, kernels: str) -> None:
    batches, depth, out_depth = _FULLY_CONNECTED[case]
    rng = np.random.default_rng(7300 + case)
    per_channel = case % 2 == 1
    input_scale = random_scale(rng, 0.005, 0.1)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    output_scale = output_scale_for(input_scale, float(np.mean(f_scales)), depth, rng)
    input_zp = _ZERO_POINTS[case % len(_ZERO_POINTS)]
    b = ModelBuilder()
    x = b.add_tensor([batches, depth], "int8", scale=input_scale, zero_point=input_zp)
    w = b.add_tensor(
        [out_depth, depth],
        "int8",
        data=_weights(rng, [out_depth, depth]),
        scale=f_scales,
        zero_point=[0] * len(f_scales),
    )
    data, b_scales = bias_values(
        rng, out_depth, input_scale, f_scales if per_channel else f_scales * out_depth
    )
    bias = b.add_tensor(
        [out_depth],
        "int32",
        data=data,
        scale=b_scales[: len(f_scales)],
        zero_point=[0] * len(f_scales),
    )
    y = b.add_tensor([batches, out_depth], "int8", scale=output_scale, zero_point=-3)
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y])
    b.set_io([x], [y])
    x_data = random_ints(rng, [batches, depth], "int8")
    label = f"FC batches={batches} depth={depth} out={out_depth} zp={input_zp} pc={per_channel}"
    assert_same_as_tflm(b.build(), [x_data], label, kernels=kernels)


# Randomly shaped cases (seeded), for the SSE2 paths' branches and the plain C++ ones.
def _random_window(
    rng: np.random.Generator, in_hw: tuple[int, int], filter_hw: tuple[int, int]
) -> tuple[tuple[int, int], int, int, str]:
    """A stride (1-3), dilation (1-2 with stride 1), padding, and the input grown to fit."""
    stride = int(rng.integers(1, 4))
    dilation = int(rng.integers(1, 3)) if stride == 1 else 1
    padding = "SAME" if rng.random() < 0.6 else "VALID"
    if padding == "VALID":  # the dilated window must fit
        in_hw = (
            max(in_hw[0], (filter_hw[0] - 1) * dilation + 1),
            max(in_hw[1], (filter_hw[1] - 1) * dilation + 1),
        )
    return in_hw, stride, dilation, padding


_RANDOM_DEPTHWISE = [
    # (in_depth, depth_multiplier, filter_hw) or None for random
    (1, 8, (10, 8)),  # micro_speech's layer: 80 taps, one input channel for 8 channels
    (5, 8, (3, 3)),  # 40 channels: a second chunk starting inside no input channel's run
    (3, 4, (5, 5)),  # 12 channels: a group of 8 and a group of 4
    (13, 1, (3, 3)),  # 8 + 4 + 1 channels
    (40, 1, (5, 1)),  # str_ww's shape: a column of taps, odd count
    (2, 12, (2, 3)),
    (1, 16, (12, 11)),  # 132 taps: more than the SSE2 tap table holds
    (33, 1, (1, 1)),
    None,
    None,
    None,
    None,
    None,
    None,
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_RANDOM_DEPTHWISE)))
def test_depthwise_random_shapes(case: int, kernels: str) -> None:
    rng = np.random.default_rng(7400 + case)
    spec = _RANDOM_DEPTHWISE[case]
    if spec is None:
        in_depth = int(rng.choice([1, 2, 3, 5, 8, 13, 16, 24, 33, 40]))
        d_mult = int(rng.choice([1, 1, 2, 4, 8, 12, 16]))
        filter_hw = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
    else:
        in_depth, d_mult, filter_hw = spec
    in_hw = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
    in_hw, stride, dilation, padding = _random_window(rng, in_hw, filter_hw)
    model, x, label = _conv(
        rng,
        op="DEPTHWISE_CONV_2D",
        in_hw=in_hw,
        in_depth=in_depth,
        out_depth=in_depth * d_mult,
        filter_hw=filter_hw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_zp=_ZERO_POINTS[case % len(_ZERO_POINTS)],
        batches=1 + case % 2,
        per_channel=case % 4 != 3,
    )
    assert_same_as_tflm(model, [x], label, kernels=kernels)


_RANDOM_CONV = [
    # (in_depth, out_depth, filter_hw) or None for random
    (40, 7, (1, 1)),  # depth 16 + 16 + 8; 4 + 3 channels
    (23, 9, (1, 1)),  # 16 + 7 values
    (64, 6, (3, 3)),  # 576 values: wider than the patch, rows of the window instead
    (70, 5, (2, 4)),  # 560 values, clipped rows
    (1, 12, (10, 4)),  # kws's first layer
    None,
    None,
    None,
    None,
    None,
]


@all_kernels
@pytest.mark.parametrize("case", range(len(_RANDOM_CONV)))
def test_conv_random_shapes(case: int, kernels: str) -> None:
    rng = np.random.default_rng(7500 + case)
    spec = _RANDOM_CONV[case]
    if spec is None:
        in_depth, out_depth = int(rng.integers(1, 80)), int(rng.integers(1, 40))
        filter_hw = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    else:
        in_depth, out_depth, filter_hw = spec
    in_hw = (int(rng.integers(1, 10)), int(rng.integers(1, 10)))
    in_hw, stride, dilation, padding = _random_window(rng, in_hw, filter_hw)
    model, x, label = _conv(
        rng,
        op="CONV_2D",
        in_hw=in_hw,
        in_depth=in_depth,
        out_depth=out_depth,
        filter_hw=filter_hw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        input_zp=_ZERO_POINTS[case % len(_ZERO_POINTS)],
        batches=1 + case % 2,
        per_channel=case % 3 != 2,
    )
    assert_same_as_tflm(model, [x], label, kernels=kernels)


@all_kernels
@pytest.mark.parametrize("case", range(8))
def test_fully_connected_random_shapes(case: int, kernels: str) -> None:
    rng = np.random.default_rng(7600 + case)
    batches, depth, out_depth = (
        int(rng.integers(1, 4)),
        int(rng.integers(1, 600)),
        int(rng.integers(1, 45)),
    )
    per_channel = case % 2 == 0
    input_scale = random_scale(rng, 0.005, 0.1)
    f_scales = channel_scales(rng, out_depth if per_channel else 1)
    output_scale = output_scale_for(input_scale, float(np.mean(f_scales)), depth, rng)
    input_zp = _ZERO_POINTS[case % len(_ZERO_POINTS)]
    b = ModelBuilder()
    x = b.add_tensor([batches, depth], "int8", scale=input_scale, zero_point=input_zp)
    w = b.add_tensor(
        [out_depth, depth],
        "int8",
        data=_weights(rng, [out_depth, depth]),
        scale=f_scales,
        zero_point=[0] * len(f_scales),
    )
    data, b_scales = bias_values(
        rng, out_depth, input_scale, f_scales if per_channel else f_scales * out_depth
    )
    bias = b.add_tensor(
        [out_depth],
        "int32",
        data=data,
        scale=b_scales[: len(f_scales)],
        zero_point=[0] * len(f_scales),
    )
    y = b.add_tensor(
        [batches, out_depth], "int8", scale=output_scale, zero_point=int(rng.integers(-128, 128))
    )
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y])
    b.set_io([x], [y])
    x_data = random_ints(rng, [batches, depth], "int8")
    label = f"FC batches={batches} depth={depth} out={out_depth} zp={input_zp} pc={per_channel}"
    assert_same_as_tflm(b.build(), [x_data], label, kernels=kernels)


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_integer_multiplier_and_requantization_equal_the_reference(tmp_path: Path) -> None:
    """The optimized kernels compute per-channel multipliers without floating point (the
    Cortex-M4F has no double-precision FPU) and requantize with fewer operations; both must
    equal quant.h's double-based QuantizeMultiplier and MultiplyByQuantizedMultiplier."""
    binary = tmp_path / "multiplier_check"
    source = Path(__file__).resolve().parent / "multiplier_check.cc"
    include = paths.runtime_dir() / "src"
    flags = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined"]
    subprocess.run(
        [
            "g++",
            *flags,
            "-fno-sanitize-recover=all",
            f"-I{include}",
            str(source),
            "-o",
            str(binary),
        ],
        check=True,
    )
    proc = subprocess.run([str(binary), "2000000"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = re.search(r"checked (\d+) mismatches 0$", proc.stdout.strip())
    # 4 x 2,000,000 everywhere, plus the SSE2 requantization rows on x86 hosts.
    assert checked is not None and int(checked.group(1)) >= 8000000, proc.stdout
