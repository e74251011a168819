"""The channel-major path of deep 1x1 CONV_2D on the Cortex-M4 DSP build
(runtime_cpp/src/md/kernels/pointwise_layer_dsp.h: the op's pixels widened once into spare
scratch, every channel's filter widened once and run against every pixel block) against TFLM,
on the emulated board (mps2-an386 in QEMU).

The path runs only where the planner grants spare scratch: head bytes that no buffer live at the
op uses. Each case here is a chain whose input is larger than what the 1x1 op keeps live: a
MAX_POOL_2D halves the input before the 1x1 op, so the pooled-away input leaves the gap. The
cases: depths 64, 68, 128, 132 and 256, pixel counts that leave 0-3 pixels after the blocks of
four (4, 9, 10, 11, 18 with batches of 2, 25, 36), channel counts over one and two 64-channel
chunks, zero points at the int8 ends, no bias, and chunks the path leaves to the four-pixel
block although granted (RELU6 clamps, dead channels in the first chunk only). A second model's
single 1x1 op has no gap (its input and output fill the arena): the old path. A third model's
1x1 ops get only part of their widened pixels (a chain of 1x1 ops after a pool that keeps the
input only somewhat larger than the ops' tensors), so they run in segments: 2 or 3 per op,
pixel counts that leave 0-3 pixels after the blocks (the last 2 or 3 as a block of the last four,
a last single one), the last op's channels over two chunks (the pixels widened again per chunk).
`md_host_run
--plan` (the host planner, which plans exactly as the device does) confirms which ops are granted
spare scratch; the firmware is built with `microdeploy build` and run with `microdeploy run
--json`, which compares every output bit for bit with TFLM's Python interpreter."""

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
)
from mps2_harness import FlashedModel, flash_model

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

# (batches, pooled h, pooled w, depth, channels, variant): the 1x1 op's shape after the pool.
# variant: "plain", "zp_ends" (input zero point -128, output 127), "no_bias", "relu6" (a clamp
# narrower than int8: every channel off the path), "dead_first" (vww_96_int8's dead channels in
# the first 64-channel chunk only: that chunk off the path, the second on it).
LAYER_CASES = (
    (1, 6, 6, 128, 70, "plain"),
    (1, 3, 3, 68, 33, "zp_ends"),
    (1, 2, 5, 256, 20, "plain"),
    (1, 1, 11, 128, 17, "no_bias"),
    (2, 3, 3, 132, 9, "plain"),
    (1, 5, 5, 64, 40, "zp_ends"),
    (1, 2, 2, 128, 5, "plain"),
    (1, 3, 3, 256, 66, "plain"),
    (1, 6, 6, 128, 24, "relu6"),
    (1, 3, 3, 128, 80, "dead_first"),
)  # fmt: skip


def _conv_1x1(
    b: ModelBuilder,
    rng: np.random.Generator,
    x: int,
    shape: tuple[int, int, int, int, int],
    in_scale: float,
    variant: str,
) -> tuple[int, float, int]:
    """A 1x1 VALID CONV_2D of `shape` (batches, h, w, depth, channels) on tensor x; returns its
    output tensor, scale and zero point."""
    batches, h, w, depth, channels = shape
    scales = channel_scales(rng, channels)
    if variant == "dead_first":
        for c in (1, 5, 17):  # tiny scales: right shifts beyond 22 or a zero multiplier
            scales[c] = float(np.float32(rng.choice([3e-9, 2e-11, 1e-13])))
    weights = symmetric_weights(rng, [channels, 1, 1, depth])
    wt = b.add_tensor([channels, 1, 1, depth], "int8", data=weights, scale=scales,
                      zero_point=[0] * channels)  # fmt: skip
    op_inputs = [x, wt]
    if variant == "no_bias":
        op_inputs.append(-1)
    else:
        data, b_scales = bias_values(rng, channels, in_scale, scales)
        op_inputs.append(
            b.add_tensor([channels], "int32", data=data, scale=b_scales, zero_point=[0] * channels)
        )
    zp_out = 127 if variant == "zp_ends" else int(rng.integers(-128, 128))
    out_scale = output_scale_for(in_scale, float(np.median(scales)), depth, rng)
    y = b.add_tensor([batches, h, w, channels], "int8", scale=out_scale, zero_point=zp_out)
    activation = "RELU6" if variant == "relu6" else "NONE"
    options = {"padding": "VALID", "stride_h": 1, "stride_w": 1,
               "fused_activation_function": activation}  # fmt: skip
    b.add_operator("CONV_2D", op_inputs, [y], options)
    return y, out_scale, zp_out


def _layer_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    """One chain per case: input (twice the pooled size each way) -> MAX_POOL_2D 2x2 stride 2
    -> the 1x1 op."""
    b = ModelBuilder()
    inputs: list[int] = []
    outputs: list[int] = []
    arrays: list[np.ndarray] = []
    labels: list[str] = []
    for batches, h, w, depth, channels, variant in LAYER_CASES:
        zp_in = -128 if variant == "zp_ends" else int(rng.integers(-128, 128))
        in_scale = random_scale(rng, 5e-3, 5e-2)
        big = [batches, 2 * h, 2 * w, depth]
        x = b.add_tensor(big, "int8", scale=in_scale, zero_point=zp_in)
        arrays.append(random_ints(rng, big, "int8"))
        pooled = b.add_tensor([batches, h, w, depth], "int8", scale=in_scale, zero_point=zp_in)
        b.add_operator("MAX_POOL_2D", [x], [pooled], {"padding": "VALID", "stride_w": 2,
                       "stride_h": 2, "filter_width": 2, "filter_height": 2})  # fmt: skip
        y, _, _ = _conv_1x1(b, rng, pooled, (batches, h, w, depth, channels), in_scale, variant)
        inputs.append(x)
        outputs.append(y)
        labels.append(f"{batches}x{h}x{w}x{depth} -> {channels}, {variant}, zp_in {zp_in}")
    b.set_io(inputs, outputs)
    return b.build(), arrays, labels


def _no_gap_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    """A single 1x1 op (6x6x128 -> 64): its input and output are the whole arena."""
    b = ModelBuilder()
    in_scale = random_scale(rng, 5e-3, 5e-2)
    x = b.add_tensor(
        [1, 6, 6, 128], "int8", scale=in_scale, zero_point=int(rng.integers(-128, 128))
    )
    y, _, _ = _conv_1x1(b, rng, x, (1, 6, 6, 128, 64), in_scale, "plain")
    b.set_io([x], [y])
    return b.build(), [random_ints(rng, [1, 6, 6, 128], "int8")], ["no gap: 1x6x6x128 -> 64"]


def _spare_bytes(pixels: int, depth: int) -> int:
    """The widened pixels' bytes the op asks for (pointwise_layer_dsp.h PointwiseLayerSpareBytes):
    8 x depth per block of four, a last 2 or 3 pixels as one more block, a last one 2 x depth."""
    return (pixels // 4 + (pixels % 4 >= 2)) * 8 * depth + (2 * depth if pixels % 4 == 1 else 0)


def _min_spare_bytes(pixels: int, depth: int) -> int:
    """The least the op asks for (PointwiseLayerMinSpareBytes): a segment of 8 blocks of four
    (kLayerMinSegmentBlocks) and room for a last single pixel, or the whole if less."""
    segment = 8 * 8 * depth + (2 * depth if pixels % 4 == 1 else 0)
    return min(segment, _spare_bytes(pixels, depth))


def test_the_layer_cases_get_spare_scratch_and_the_no_gap_op_none() -> None:
    """The host planner (the device plans the same) grants each chain's 1x1 op the whole of its
    request, so the device test below runs the channel-major path there, and the no-gap op none."""
    model, _, _ = _layer_model(np.random.default_rng(11))
    plan = host_runtime.plan_model(model)
    expected = {
        2 * i + 1: (_min_spare_bytes(batches * h * w, depth), _spare_bytes(batches * h * w, depth))
        for i, (batches, h, w, depth, _, _) in enumerate(LAYER_CASES)
    }
    got = {r.op: (r.min_bytes, r.max_bytes, r.bytes) for r in plan.spare}
    assert got == {op: (low, n, n) for op, (low, n) in expected.items()}, plan.spare
    model, _, _ = _no_gap_model(np.random.default_rng(11))
    spare = host_runtime.plan_model(model).spare
    assert [(r.op, r.min_bytes, r.max_bytes, r.bytes) for r in spare] == [
        (0, _min_spare_bytes(36, 128), _spare_bytes(36, 128), 0)
    ], spare


# The segment chain: input (1, 1, SEGMENT_INPUT_WIDTH, 64) -> per width w a MAX_POOL_2D 1 x k
# (stride 1, VALID) down to (1, 1, w, 64) -> a 1x1 op 64 -> 64 channels (the last one -> 80).
SEGMENT_INPUT_WIDTH = 142
SEGMENT_WIDTHS = (72, 67, 66, 65)
SEGMENT_DEPTH = 64
SEGMENT_LAST_CHANNELS = 80


def _segment_model(rng: np.random.Generator) -> tuple[bytes, list[np.ndarray], list[str]]:
    """A chain of 1x1 ops whose spare scratch holds only part of their widened pixels: the
    head is set by the first pool (its input and output), so at each 1x1 op a little more than
    the op's own pixels is free, about half of the widened pixels it would take."""
    b = ModelBuilder()
    in_scale = random_scale(rng, 5e-3, 5e-2)
    zp_in = int(rng.integers(-128, 128))
    shape = [1, 1, SEGMENT_INPUT_WIDTH, SEGMENT_DEPTH]
    x = first = b.add_tensor(shape, "int8", scale=in_scale, zero_point=zp_in)
    arrays = [random_ints(rng, shape, "int8")]
    width, scale, zp = SEGMENT_INPUT_WIDTH, in_scale, zp_in
    for i, w in enumerate(SEGMENT_WIDTHS):
        pooled = b.add_tensor([1, 1, w, SEGMENT_DEPTH], "int8", scale=scale, zero_point=zp)
        b.add_operator("MAX_POOL_2D", [x], [pooled], {"padding": "VALID", "stride_w": 1,
                       "stride_h": 1, "filter_width": width - w + 1,
                       "filter_height": 1})  # fmt: skip
        last = i == len(SEGMENT_WIDTHS) - 1
        channels = SEGMENT_LAST_CHANNELS if last else SEGMENT_DEPTH
        shape_1x1 = (1, 1, w, SEGMENT_DEPTH, channels)
        x, scale, zp = _conv_1x1(b, rng, pooled, shape_1x1, scale, "plain")
        width = w
    b.set_io([first], [x])
    return b.build(), arrays, [f"segment chain 1x1x{SEGMENT_WIDTHS} x {SEGMENT_DEPTH}"]


def test_the_segment_chain_gets_part_of_its_widened_pixels() -> None:
    """The host planner grants each 1x1 op of the segment chain at least its minimum and less
    than the whole: 2 or 3 segments (of about equal blocks) per op, 0-3 pixels after the blocks."""
    model, _, _ = _segment_model(np.random.default_rng(11))
    plan = host_runtime.plan_model(model)
    assert [r.op for r in plan.spare] == [1, 3, 5, 7], plan.spare
    segments = []
    for r, w in zip(plan.spare, SEGMENT_WIDTHS, strict=True):
        assert (r.min_bytes, r.max_bytes) == (
            _min_spare_bytes(w, SEGMENT_DEPTH),
            _spare_bytes(w, SEGMENT_DEPTH),
        )
        assert r.min_bytes <= r.bytes < r.max_bytes, plan.spare  # partial
        blocks = w // 4 + (w % 4 >= 2)  # pointwise_layer_dsp.h: units
        room = (r.bytes - (2 * SEGMENT_DEPTH if w % 4 == 1 else 0)) // (8 * SEGMENT_DEPTH)
        segments.append(-(-blocks // room))
    assert sorted({w % 4 for w in SEGMENT_WIDTHS}) == [0, 1, 2, 3]
    assert 2 in segments and 3 in segments and max(segments) <= 3, segments


@pytest.fixture(scope="module", params=["layer", "no_gap", "segments"])
def flashed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FlashedModel, list[str]]]:
    make = {"layer": _layer_model, "no_gap": _no_gap_model, "segments": _segment_model}[
        request.param
    ]
    model, arrays, labels = make(np.random.default_rng(11))
    device = flash_model(tmp_path_factory.mktemp(request.param), "model", model, arrays)
    yield device, labels
    device.stop()


def test_deep_pointwise_layers_match_tflm_on_mps2(
    flashed: tuple[FlashedModel, list[str]],
) -> None:
    device, labels = flashed
    line = device.run_against_tflm()
    assert len(line["output"]) == len(labels)  # every op's output came back
    assert line["match"] is True, "\n".join(labels) + "\n" + json.dumps(line)[:2000]
