"""The interpreter's per-tensor head offsets (docs/architecture.md, arena layout): uint16 slots
(offset / 16) while the head is at most 0xffff x 16 bytes, a uint32 offset per tensor as well
beyond. A model whose head passes 1 MiB runs through the wide table, bit-exactly with TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from microdeploy import host_runtime, reference
from microdeploy.model.writer import ModelBuilder

# Four int8 inputs alive together from op 0: the head holds 4 x N bytes and the last input sits
# at 3 x N, past the 0xffff x 16 bytes a uint16 slot reaches.
N = 400_000
QUANT = {"scale": 0.5, "zero_point": 2}


def four_input_add_model() -> bytes:
    """t = x + y, u = t + z, out = u + w (int8 [1, N] each)."""
    b = ModelBuilder()
    x, y, z, w, t, u, out = (b.add_tensor([1, N], "int8", **QUANT) for _ in range(7))
    b.add_operator("ADD", [x, y], [t])
    b.add_operator("ADD", [t, z], [u])
    b.add_operator("ADD", [u, w], [out])
    b.set_io([x, y, z, w], [out])
    return b.build()


def test_head_over_one_mebibyte_uses_wide_offsets() -> None:
    model = four_input_add_model()
    plan = host_runtime.plan_model(model)
    assert plan.head >= 4 * N > 0xFFFF * 16
    # Tail: 7 uint16 slots (14 -> 16 bytes), 3 op nodes (48), the wide table (7 x 4 = 28 -> 32):
    # 96 bytes. Without the wide table it would be 64.
    assert plan.tail == 96


def test_wide_offsets_run_bit_exact_with_tflm() -> None:
    if not reference.available():
        pytest.skip("tflite-micro is not installed")
    model = four_input_add_model()
    rng = np.random.default_rng(11)
    inputs = [rng.integers(-128, 128, size=(1, N), dtype=np.int8) for _ in range(4)]
    ours = host_runtime.run_model(model, inputs).outputs[0]
    theirs = reference.tflm_run(model, inputs, arena_size=8 * N)[0]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    mismatch = np.flatnonzero(ours.reshape(-1) != theirs.reshape(-1))
    assert mismatch.size == 0, f"{mismatch.size} of {N} values differ, first at {mismatch[0]}"
