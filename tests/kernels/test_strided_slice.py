"""STRIDED_SLICE against TFLM: random begin/end (negative and out-of-range indices), positive
and negative strides, begin/end/shrink-axis masks, rank 1-4, int8 / int16 / int32 / float32."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_shape

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


def _axis_range(size: int, begin: int, end: int, stride: int, bmask: bool, emask: bool):
    """TFLM's start/stop resolution for one axis (used only to size the output tensor)."""

    def clamp(v: int, lo: int, hi: int) -> int:
        return max(lo, min(hi, v))

    start = begin + size if begin < 0 else begin
    start = clamp(start, 0, size) if stride > 0 else clamp(start, -1, size - 1)
    if bmask:
        start = 0 if stride > 0 else size - 1
    stop = end + size if end < 0 else end
    stop = clamp(stop, 0, size) if stride > 0 else clamp(stop, -1, size - 1)
    if emask:
        stop = size if stride > 0 else -1
    return start, stop


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
@pytest.mark.parametrize("seed", range(12))
def test_strided_slice_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(14000 + seed)
    rank = int(rng.integers(1, 5))
    shape = random_shape(rng, rank, max_dim=7)
    begin, end, strides, out_shape = [], [], [], []
    begin_mask = end_mask = shrink_mask = 0
    for axis, size in enumerate(shape):
        while True:  # redraw until the axis keeps at least one element
            stride = int(rng.choice([1, 1, 2, 3, -1, -2]))
            b_idx = int(rng.integers(-size - 2, size + 2))
            e_idx = int(rng.integers(-size - 2, size + 2))
            bmask = bool(rng.random() < 0.25)
            emask = bool(rng.random() < 0.25)
            start, stop = _axis_range(size, b_idx, e_idx, stride, bmask, emask)
            count = math.ceil((stop - start) / stride)
            # TFLM writes nothing for a shrunk axis with a negative stride (its loop runs from
            # start towards start + 1), so shrinking is only drawn with positive strides.
            shrink = stride > 0 and 0 <= start < size and rng.random() < 0.2
            if count > 0 or shrink:
                break
        begin_mask |= int(bmask) << axis
        end_mask |= int(emask) << axis
        if shrink:
            shrink_mask |= 1 << axis
        else:
            out_shape.append(count)
        begin.append(b_idx)
        end.append(e_idx)
        strides.append(stride)
    scale = random_scale(rng) if dtype in ("int8", "int16") else None
    zp = int(rng.integers(-128, 128)) if dtype == "int8" else (0 if scale else None)
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, scale=scale, zero_point=zp)
    consts = [
        b.add_tensor([rank], "int32", data=np.array(v, np.int32)) for v in (begin, end, strides)
    ]
    y = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zp)
    options = {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink_mask}
    b.add_operator("STRIDED_SLICE", [x, *consts], [y], options)
    b.set_io([x], [y])
    if dtype == "float32":
        inputs = [rng.normal(size=shape).astype(np.float32)]
    else:
        inputs = [random_ints(rng, shape, dtype)]
    label = f"{dtype} seed={seed} {shape} {begin} {end} {strides} {options}"
    assert_same_as_tflm(b.build(), inputs, label=label)


def test_ellipsis_mask_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "float32")
    consts = [b.add_tensor([1], "int32", data=np.array([v], np.int32)) for v in (0, 2, 1)]
    y = b.add_tensor([2], "float32")
    b.add_operator("STRIDED_SLICE", [x, *consts], [y], {"ellipsis_mask": 1})
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="STRIDED_SLICE.*ellipsis_mask"):
        host_runtime.run_model(b.build(), [np.zeros([4], np.float32)])
