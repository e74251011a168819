"""Spare scratch (kernel.h RequestSpareScratch; docs/architecture.md, arena planning step 7).

The Python planner grants what the C++ runtime grants: `md_host_run --spare-probe` makes every op
ask, and its requests are fed to `plan_arena`. Grants lie only on head bytes free at their op,
the plan is the same with or without spare requests, the arena figures Python predicts stay the
runtime's, and the runtime's outputs stay bit-exact with TFLM while every granted byte is
overwritten around its op's invoke.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_patch_execution import chain_model, random_chain_model
from test_planner import random_graph_model

from microdeploy import paths, reference
from microdeploy.model.analysis import RuntimeFacts, runtime_arena_bytes
from microdeploy.model.reader import read_model
from microdeploy.patching import TILING_MODES
from microdeploy.planner import (
    ALIGNMENT,
    WIDE_HEAD,
    ArenaPlan,
    ScratchRequest,
    SpareGrant,
    SpareRequest,
    grant_spare,
    largest_free_run,
    plan_arena,
)

host_runtime = pytest.importorskip("microdeploy.host_runtime")
needs_tflm = pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")

_NOT_LOADABLE = {"UnsupportedOp", "UnsupportedType"}
# (min, max, requests per op): take whatever is free, twice; a capped middle size; a large min.
PROBES = [(16, 1 << 20, 2), (256, 1024, 1), (20_000, 1 << 20, 1)]


def _assert_grants_free(plan: ArenaPlan) -> None:
    """Each grant is 16-aligned inside the head and meets no buffer live at its op nor another
    grant of its op; ops of the stage have none."""
    for k, grant in enumerate(plan.spare):
        if grant.bytes == 0:
            assert grant.offset == -1
            continue
        assert grant.offset % ALIGNMENT == 0
        assert grant.offset + grant.bytes <= plan.head
        if plan.stage is not None:
            assert not plan.stage[0] <= grant.op <= plan.stage[1]
        end = grant.offset + grant.bytes
        for b in plan.buffers:
            if b.live_at(grant.op):
                assert end <= b.offset or b.offset + b.size <= grant.offset, (grant, b)
        for other in plan.spare[:k]:
            if other.op == grant.op and other.bytes > 0:
                assert end <= other.offset or other.offset + other.bytes <= grant.offset


def _compare_spare(
    model_bytes: bytes, tiling: str, probe: tuple[int, int, int]
) -> tuple[ArenaPlan, host_runtime.ArenaPlan]:
    """C++ and Python grant alike; spare requests leave the runtime's plan as it was; Python's
    arena figures with them are the runtime's."""
    try:
        cpp = host_runtime.plan_model(model_bytes, tiling=tiling, spare_probe=probe)
    except host_runtime.HostRunnerError as exc:
        if exc.kind in _NOT_LOADABLE:
            pytest.skip(f"runtime cannot load this model: {exc.message}")
        raise
    plain = host_runtime.plan_model(model_bytes, tiling=tiling)
    assert (cpp.buffers, cpp.head, cpp.stage) == (plain.buffers, plain.head, plain.stage)
    model = read_model(model_bytes)
    # Per op the kernel's own requests (CONV_2D's deep 1x1 path, conv_2d.cc), then the probe's.
    own = [r.op for r in plain.spare]
    assert [r.op for r in cpp.spare] == [
        op for op in range(len(model.operators)) for _ in range(own.count(op) + probe[2])
    ]
    scratch = tuple(ScratchRequest(b.op, b.size) for b in cpp.buffers if b.tensor == -1)
    spare = tuple(SpareRequest(r.op, r.min_bytes, r.max_bytes) for r in cpp.spare)
    py = plan_arena(model, scratch, tiling=tiling, spare=spare)
    assert [(g.op, g.offset, g.bytes) for g in py.spare] == [
        (r.op, r.offset, r.bytes) for r in cpp.spare
    ]
    _assert_grants_free(py)
    tail, arena = runtime_arena_bytes(model, py, RuntimeFacts(scratch, cpp.tail, spare))
    assert (tail, arena) == (cpp.tail, cpp.arena_bytes)
    return py, cpp


def _model_paths() -> list[Path]:
    d = paths.shared_models_dir()
    return sorted(d.glob("*/*.tflite")) if d.is_dir() else []


@pytest.mark.parametrize("tiling", TILING_MODES)
@pytest.mark.parametrize("path", _model_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_same_grants_as_runtime_on_reference_models(path: Path, tiling: str) -> None:
    _compare_spare(path.read_bytes(), tiling, PROBES[0])


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("seed", range(12))
def test_same_grants_as_runtime_on_random_graphs(seed: int, probe: tuple[int, int, int]) -> None:
    _compare_spare(random_graph_model(seed), "auto", probe)


@pytest.mark.parametrize("seed", range(8))
def test_same_grants_as_runtime_on_random_chains_streamed(seed: int) -> None:
    py, _ = _compare_spare(random_chain_model(seed), "on", PROBES[0])
    assert py.stage is not None


def test_person_detect_deep_ops_get_spare_bytes() -> None:
    """The case spare scratch is for: person_detect's deep 1x1 ops ask for their widened input
    (conv_2d.cc: at most all of it, 8 x depth bytes per block of four pixels; at least a segment
    of 8 blocks, or all of it when less) and get it: all of it after the stage (6x6x128, 9,216
    bytes; 3x3x128 and 3x3x256, 2,304 and 4,608; 6x6x64, 4,608) and layer by layer; op 10
    (12x12x64, 18,432 bytes) with the patch-based plan only the 7,872 bytes free at it (it runs
    in segments), all of it layer by layer."""
    path = paths.shared_models_dir() / "tflm" / "person_detect.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    for tiling, op10 in (("auto", 7872), ("off", 18432)):
        _compare_spare(path.read_bytes(), tiling, (9216, 9216, 1))
        plan = host_runtime.plan_model(path.read_bytes(), tiling=tiling)
        deep = [(r.op, r.min_bytes, r.max_bytes, r.bytes) for r in plan.spare]
        assert deep == [(10, 4096, 18432, op10), (12, 4096, 4608, 4608)] + [
            (op, 8192, 9216, 9216) for op in (14, 16, 18, 20, 22)
        ] + [(24, 2304, 2304, 2304), (26, 4608, 4608, 4608)], tiling


def test_stage_ops_get_none_that_they_get_layer_by_layer() -> None:
    model = chain_model(0)
    streamed, _ = _compare_spare(model, "on", (16, 1 << 20, 1))
    layered, _ = _compare_spare(model, "off", (16, 1 << 20, 1))
    assert streamed.stage is not None and layered.stage is None
    first, last = streamed.stage
    in_stage = [g for g in layered.spare if first <= g.op <= last]
    assert any(g.bytes > 0 for g in in_stage)  # a gap there layer by layer ...
    assert all(g.bytes == 0 for g in streamed.spare if first <= g.op <= last)  # ... none streamed
    assert any(g.bytes > 0 for g in streamed.spare if not first <= g.op <= last)


def test_capped_and_below_min_in_the_runtime() -> None:
    """The same model and op: the whole run, a capped part of it, nothing when min exceeds it."""
    model = chain_model(0)
    whole, _ = _compare_spare(model, "off", (16, 1 << 20, 1))
    granted = [g for g in whole.spare if g.bytes > 32]
    assert granted
    g = granted[0]
    capped, _ = _compare_spare(model, "off", (16, 32, 1))
    assert capped.spare[g.op] == SpareGrant(g.op, g.offset, 32)
    below, _ = _compare_spare(model, "off", (g.bytes + 1, g.bytes + 1, 1))
    assert below.spare[g.op] == SpareGrant(g.op, -1, 0)
    exact, _ = _compare_spare(model, "off", (g.bytes, g.bytes, 1))
    assert exact.spare[g.op] == g


# Pure Python: the rule on hand-made buffers (sizes, firsts, lasts, offsets), head 256. Free at
# op 0: [64, 128) and [192, 256); at op 1: [96, 128) and [192, 256); at op 2: nothing.
_SIZES = [64, 64, 32, 64, 32, 64]
_FIRSTS = [0, 0, 1, 2, 2, 2]
_LASTS = [1, 2, 2, 2, 2, 2]
_OFFSETS = [0, 128, 64, 0, 96, 192]


def _grants(*requests: SpareRequest, stage: tuple[int, int] | None = None, head: int = 256):
    return grant_spare(_SIZES, _FIRSTS, _LASTS, _OFFSETS, head, stage, requests)


def test_largest_free_run_prefers_the_lowest_of_equal_runs() -> None:
    assert largest_free_run([(0, 64), (128, 192)], 256) == (64, 64)
    assert largest_free_run([(0, 64), (64, 256)], 256) == (0, 0)
    assert largest_free_run([], 48) == (0, 48)
    assert largest_free_run([(16, 16), (32, 48)], 64) == (0, 32)  # empty ranges cover nothing


def test_grant_rule_cases() -> None:
    # A gap: the largest run; the op's next request sees the first grant as live.
    assert _grants(SpareRequest(0, 16, 999), SpareRequest(0, 16, 999)) == (
        SpareGrant(0, 64, 64),
        SpareGrant(0, 192, 64),
    )
    # Capped at max; its 16-byte blocks [192, 224) are then taken, so the lower of the two
    # 32-byte runs left comes next.
    assert _grants(SpareRequest(1, 16, 20), SpareRequest(1, 16, 999)) == (
        SpareGrant(1, 192, 20),
        SpareGrant(1, 96, 32),
    )
    # Below min, and no gap at all (op 2 uses [0, 256)).
    assert _grants(SpareRequest(1, 65, 999), SpareRequest(2, 16, 999)) == (
        SpareGrant(1, -1, 0),
        SpareGrant(2, -1, 0),
    )
    # Ops of the stage, a zero max, a wide head.
    assert _grants(SpareRequest(0, 16, 999), stage=(0, 1)) == (SpareGrant(0, -1, 0),)
    assert _grants(SpareRequest(0, 0, 0)) == (SpareGrant(0, -1, 0),)
    assert _grants(SpareRequest(0, 16, 999), head=WIDE_HEAD) == (SpareGrant(0, -1, 0),)
    with pytest.raises(ValueError, match="min <= max"):
        SpareRequest(0, 32, 16)


def test_spare_requests_change_no_plan_in_python() -> None:
    model = read_model(chain_model(1))
    spare = [SpareRequest(op, 16, 1 << 20) for op in range(len(model.operators))]
    for tiling in TILING_MODES:
        plain = plan_arena(model, tiling=tiling)
        with_spare = plan_arena(model, tiling=tiling, spare=spare)
        assert (plain.buffers, plain.head, plain.stage) == (
            with_spare.buffers,
            with_spare.head,
            with_spare.stage,
        )
        assert plain.spare == () and len(with_spare.spare) == len(spare)


def _random_inputs(model_bytes: bytes, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = []
    for t in read_model(model_bytes).inputs:
        info = np.iinfo(np.dtype(t.dtype))
        inputs.append(rng.integers(info.min, info.max + 1, size=t.shape, dtype=np.dtype(t.dtype)))
    return inputs


@needs_tflm
@pytest.mark.parametrize(
    ("name", "tiling"),
    [
        ("tflm/person_detect", "auto"),
        ("tflm/person_detect", "off"),
        ("tflm/keyword_scrambled", "auto"),
    ],
)
def test_spoiled_grants_leave_reference_outputs_exact(name: str, tiling: str) -> None:
    path = paths.shared_models_dir() / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = path.read_bytes()
    plan = host_runtime.plan_model(model, tiling=tiling, spare_probe=PROBES[0])
    assert any(r.bytes > 0 for r in plan.spare)
    inputs = _random_inputs(model, 3)
    ours = host_runtime.run_model(model, inputs, repeat=2, tiling=tiling, spare_probe=PROBES[0])
    for got, want in zip(ours.outputs, reference.tflm_run(model, inputs), strict=True):
        assert np.array_equal(got, want)


@needs_tflm
@pytest.mark.parametrize("seed", range(4))
def test_spoiled_grants_leave_synthetic_outputs_exact(seed: int) -> None:
    for model, tiling in ((chain_model(seed % 3), "off"), (random_graph_model(seed), "auto")):
        plan = host_runtime.plan_model(model, tiling=tiling, spare_probe=PROBES[0])
        assert any(r.bytes > 0 for r in plan.spare)
        inputs = _random_inputs(model, seed)
        ours = host_runtime.run_model(model, inputs, tiling=tiling, spare_probe=PROBES[0])
        for got, want in zip(ours.outputs, reference.tflm_run(model, inputs), strict=True):
            assert np.array_equal(got, want)
