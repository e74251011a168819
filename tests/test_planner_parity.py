"""The Python planner and the C++ runtime's planner (md_host_run --plan) give the same buffers,
offsets and head on every reference model and on random graphs (scratch requests, which only
the kernels know, are taken from the C++ plan and fed to the Python planner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_planner import random_graph_model

from microdeploy import paths
from microdeploy.model.reader import read_model
from microdeploy.patching import TILING_MODES
from microdeploy.planner import ScratchRequest, plan_arena

host_runtime = pytest.importorskip("microdeploy.host_runtime")

# Errors that mean "this runtime build cannot load the model yet", not a planner difference.
_NOT_LOADABLE = {"UnsupportedOp", "UnsupportedType"}


def _compare(model_bytes: bytes, tiling: str = "auto") -> None:
    try:
        cpp = host_runtime.plan_model(model_bytes, tiling=tiling)
    except host_runtime.HostRunnerError as exc:
        if exc.kind in _NOT_LOADABLE:
            pytest.skip(f"runtime cannot load this model: {exc.message}")
        raise
    scratch = [ScratchRequest(b.op, b.size) for b in cpp.buffers if b.tensor == -1]
    py = plan_arena(read_model(model_bytes), scratch, tiling=tiling)
    fields = ("id", "tensor", "size", "first", "last", "offset", "alias")
    ours = [tuple(getattr(b, f) for f in fields) for b in py.buffers]
    theirs = [tuple(getattr(b, f) for f in fields) for b in cpp.buffers]
    assert ours == theirs
    assert py.head == cpp.head
    assert py.stage == cpp.stage


def _model_paths() -> list[Path]:
    d = paths.shared_models_dir()
    return sorted(d.glob("*/*.tflite")) if d.is_dir() else []


@pytest.mark.parametrize("tiling", TILING_MODES)
@pytest.mark.parametrize("path", _model_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_same_plan_as_runtime_on_reference_models(path: Path, tiling: str) -> None:
    _compare(path.read_bytes(), tiling)


@pytest.mark.parametrize("tiling", TILING_MODES)
@pytest.mark.parametrize("seed", range(30))
def test_same_plan_as_runtime_on_random_graphs(seed: int, tiling: str) -> None:
    _compare(random_graph_model(seed), tiling)
