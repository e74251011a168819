"""microdeploy.host_runtime: the host runner's answers and its errors, on small models made by
our own ModelBuilder (no ../shared needed). Outputs are compared with TFLM when it is installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, reference
from microdeploy.model.writer import ModelBuilder


def add_model(n: int = 64) -> bytes:
    """y = x + c (int8, same quantization everywhere), then y + x."""
    b = ModelBuilder()
    x = b.add_tensor([1, n], "int8", scale=0.25, zero_point=-3)
    c = b.add_tensor(
        [1, n], "int8", data=(np.arange(n) % 50 - 25).astype(np.int8), scale=0.25, zero_point=-3
    )
    y = b.add_tensor([1, n], "int8", scale=0.25, zero_point=-3)
    z = b.add_tensor([1, n], "int8", scale=0.5, zero_point=1)
    b.add_operator("ADD", [x, c], [y])
    b.add_operator("ADD", [y, x], [z])
    b.set_io([x], [z])
    return b.build()


def test_run_matches_reference_and_repeats() -> None:
    model = add_model()
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 64), dtype=np.int8)
    result = host_runtime.run_model(model, [x], repeat=3, profile=True)
    assert len(result.invoke_us) == 3
    assert [p.name for p in result.profile] == ["ADD", "ADD"]
    assert result.arena_bytes >= result.arena_head + result.arena_tail
    if reference.available():
        assert np.array_equal(result.outputs[0], reference.tflm_run(model, [x])[0])
    once = host_runtime.run_model(model, [x])
    assert np.array_equal(once.outputs[0], result.outputs[0])  # inputs re-copied per invoke


def test_exact_arena_works_and_smaller_names_the_need() -> None:
    model = add_model()
    x = np.zeros((1, 64), np.int8)
    plan = host_runtime.plan_model(model)
    host_runtime.run_model(model, [x], arena_size=plan.arena_bytes)
    with pytest.raises(host_runtime.HostRunnerError) as info:
        host_runtime.run_model(model, [x], arena_size=plan.arena_bytes - 16)
    assert info.value.kind == "ArenaTooSmall"
    assert info.value.needed == plan.arena_bytes
    assert str(info.value) == (
        f"arena too small: need {plan.arena_bytes} bytes, have {plan.arena_bytes - 16}"
    )
    assert str(plan.arena_bytes) in info.value.hint


def test_plan_places_live_buffers_apart() -> None:
    plan = host_runtime.plan_model(add_model())
    assert {b.tensor for b in plan.buffers} == {0, 2, 3}  # c (1) is constant
    # z is written in place over y (ADD's input dying at op 1): it shares y's bytes, and y's
    # planned lifetime covers z's; the other buffers are placed apart.
    by_tensor = {b.tensor: b for b in plan.buffers}
    assert by_tensor[3].alias == by_tensor[2].id and by_tensor[3].offset == by_tensor[2].offset
    assert by_tensor[2].last >= by_tensor[3].last
    for a in plan.buffers:
        assert a.offset % 16 == 0 and a.offset + a.size <= plan.head
        for b in plan.buffers:
            if a.alias >= 0 or b.alias >= 0:
                continue
            if a.id < b.id and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset


def test_wrong_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(host_runtime.ModelError, match=r"input 0: got int8 \[1, 65\]"):
        host_runtime.run_model(add_model(), [np.zeros((1, 65), np.int8)])
    with pytest.raises(host_runtime.ModelError, match="got float32 .* wants int8"):
        host_runtime.run_model(add_model(), [np.zeros((1, 16), np.float32)])
    with pytest.raises(host_runtime.HostRunnerError, match="1 inputs, 0 input files"):
        host_runtime.run_model(add_model(), [])
    # The runner checks sizes itself too.
    model = tmp_path / "add.tflite"
    model.write_bytes(add_model())
    (tmp_path / "x.bin").write_bytes(bytes(65))
    proc = subprocess.run(
        [str(host_runtime.build_runner()), str(model), str(tmp_path / "x.bin")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["message"].startswith("input 0 must be 64 bytes (int8)")


def test_truncated_model_is_malformed() -> None:
    model = add_model()
    with pytest.raises(
        host_runtime.HostRunnerError, match="^malformed model: .* at offset"
    ) as info:
        host_runtime.run_model(model[: len(model) // 2], [np.zeros((1, 64), np.int8)])
    assert info.value.kind == "MalformedModel"


def test_unsupported_op_is_named() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "float32")
    y = b.add_tensor([4], "float32")
    b.add_operator("EXP", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(host_runtime.HostRunnerError, match=r"op 0 \(EXP\) is not supported") as e:
        host_runtime.run_model(b.build(), [np.zeros(4, np.float32)])
    assert e.value.kind == "UnsupportedOp"


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(host_runtime.ModelError, match="model file not found"):
        host_runtime.run_model(tmp_path / "nope.tflite", [])


def test_release_build_gives_same_outputs() -> None:
    model = add_model()
    x = np.random.default_rng(5).integers(-128, 128, size=(1, 64), dtype=np.int8)
    fast = host_runtime.run_model(model, [x], sanitize=False)
    checked = host_runtime.run_model(model, [x])
    assert np.array_equal(fast.outputs[0], checked.outputs[0])
