"""MEAN against TFLM: random axis sets (negative and repeated axes), keep_dims on and off,
int8 / int16 with random or equal input/output quantization, TFLM's 4-D axes {1, 2} case,
float32; outputs bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_shape

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


def _mean_model(
    shape: list[int],
    axes: list[int],
    keep_dims: bool,
    dtype: str,
    in_q: tuple[float | None, int | None],
    out_q: tuple[float | None, int | None],
) -> bytes:
    rank = len(shape)
    reduced = {a % rank for a in axes}
    if keep_dims:
        out_shape = [1 if i in reduced else d for i, d in enumerate(shape)]
    else:
        out_shape = [d for i, d in enumerate(shape) if i not in reduced]
    b = ModelBuilder()
    x = b.add_tensor(shape, dtype, scale=in_q[0], zero_point=in_q[1])
    a = b.add_tensor([len(axes)], "int32", data=np.array(axes, dtype=np.int32))
    y = b.add_tensor(out_shape, dtype, scale=out_q[0], zero_point=out_q[1])
    b.add_operator("MEAN", [x, a], [y], {"keep_dims": keep_dims})
    b.set_io([x], [y])
    return b.build()


def _random_axes(rng: np.random.Generator, rank: int) -> list[int]:
    count = int(rng.integers(1, rank + 1))
    axes = [int(a) for a in rng.choice(rank, size=count, replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]
    if rng.random() < 0.2:
        axes.append(axes[0])  # a repeated axis counts once
    return axes


def _quant(rng: np.random.Generator, dtype: str, same: bool) -> tuple[tuple, tuple]:
    zp_in = int(rng.integers(-128, 128)) if dtype == "int8" else 0
    in_q = (random_scale(rng), zp_in)
    if same:
        return in_q, in_q
    zp_out = int(rng.integers(-128, 128)) if dtype == "int8" else 0
    return in_q, (float(np.float32(in_q[0] * rng.uniform(0.3, 3.0))), zp_out)


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("seed", range(10))
def test_mean_quantized_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(11000 + seed)
    shape = random_shape(rng, int(rng.integers(1, 5)), max_dim=6)
    axes = _random_axes(rng, len(shape))
    keep_dims = bool(seed % 2)
    in_q, out_q = _quant(rng, dtype, same=seed % 3 == 0)
    model = _mean_model(shape, axes, keep_dims, dtype, in_q, out_q)
    x = random_ints(rng, shape, dtype)
    assert_same_as_tflm(model, [x], label=f"{dtype} seed={seed} {shape} {axes} {in_q} {out_q}")


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("seed", range(4))
def test_mean_4d_spatial_matches_tflm(dtype: str, seed: int) -> None:
    """TFLM special-cases 4-D inputs reduced over axes {1, 2} (global average pooling)."""
    rng = np.random.default_rng(12000 + seed)
    shape = [int(rng.integers(1, 3)), *random_shape(rng, 2, max_dim=9), int(rng.integers(1, 9))]
    axes = [1, 2] if seed % 2 else [2, 1]
    keep_dims = seed < 2
    if dtype == "float32":
        model = _mean_model(shape, axes, keep_dims, dtype, (None, None), (None, None))
        x = rng.normal(size=shape).astype(np.float32)
    else:
        in_q, out_q = _quant(rng, dtype, same=seed == 3)
        model = _mean_model(shape, axes, keep_dims, dtype, in_q, out_q)
        x = random_ints(rng, shape, dtype)
    assert_same_as_tflm(model, [x], label=f"{dtype} seed={seed} {shape} {axes} {keep_dims}")


@pytest.mark.parametrize("seed", range(6))
def test_mean_float_matches_tflm(seed: int) -> None:
    rng = np.random.default_rng(13000 + seed)
    shape = random_shape(rng, int(rng.integers(1, 5)), max_dim=6)
    axes = _random_axes(rng, len(shape))
    model = _mean_model(shape, axes, bool(seed % 2), "float32", (None, None), (None, None))
    x = rng.normal(size=shape).astype(np.float32)
    assert_same_as_tflm(model, [x], label=f"float seed={seed} {shape} {axes}")


def test_axis_out_of_range_is_a_prepare_error() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2, 3], "float32")
    a = b.add_tensor([1], "int32", data=np.array([2], np.int32))
    y = b.add_tensor([2, 3], "float32")
    b.add_operator("MEAN", [x, a], [y], {"keep_dims": True})
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match="MEAN.*axis 2 out of range"):
        host_runtime.run_model(b.build(), [np.zeros([2, 3], np.float32)])
