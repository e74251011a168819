"""CONCATENATION against TFLM: 1-4 inputs of rank 1-4 along every axis (negative axes too),
int8 / int16 / int32 / int64 / float32, outputs bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import assert_same_as_tflm, random_ints, random_scale, random_shape

from microdeploy import host_runtime
from microdeploy.model.writer import ModelBuilder


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "float32"])
@pytest.mark.parametrize("seed", range(6))
def test_concatenation_matches_tflm(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(9000 + seed)
    rank = int(rng.integers(1, 5))
    base = random_shape(rng, rank)
    axis = int(rng.integers(-rank, rank))
    shapes = []
    for _ in range(int(rng.integers(1, 5))):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 5))
        shapes.append(shape)
    out_shape = list(base)
    out_shape[axis] = sum(s[axis] for s in shapes)
    # TFLM copies bytes: inputs share the output's quantization.
    scale = random_scale(rng) if dtype in ("int8", "int16") else None
    zp = int(rng.integers(-128, 128)) if dtype == "int8" else (0 if scale else None)
    b = ModelBuilder()
    ins = [b.add_tensor(s, dtype, scale=scale, zero_point=zp) for s in shapes]
    out = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zp)
    b.add_operator("CONCATENATION", ins, [out], {"axis": axis})
    b.set_io(ins, [out])
    if dtype == "float32":
        inputs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    elif dtype == "int64":
        inputs = [rng.integers(-(2**62), 2**62, size=s, dtype=np.int64) for s in shapes]
    else:
        inputs = [random_ints(rng, s, dtype) for s in shapes]
    assert_same_as_tflm(b.build(), inputs, label=f"{dtype} seed={seed} {shapes} axis={axis}")


def test_inputs_with_other_quantization_are_a_prepare_error() -> None:
    b = ModelBuilder()
    x1 = b.add_tensor([1, 2], "int8", scale=0.1, zero_point=0)
    x2 = b.add_tensor([1, 2], "int8", scale=0.2, zero_point=0)
    y = b.add_tensor([1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("CONCATENATION", [x1, x2], [y], {"axis": 1})
    b.set_io([x1, x2], [y])
    x = [np.zeros([1, 2], np.int8)] * 2
    with pytest.raises(host_runtime.HostRunnerError, match="CONCATENATION.*input 1 quantization"):
        host_runtime.run_model(b.build(), x)
