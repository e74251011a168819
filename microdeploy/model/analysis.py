"""What `microdeploy inspect` reports about a model: I/O, ops with options and MACs, weights,
runtime support, the arena plan (same algorithm as the runtime) and whether it fits a board.

Pure library code: the CLI (microdeploy/cli/inspect_cmd.py) only formats `ModelReport`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from microdeploy import build_records, paths
from microdeploy.boards import Board
from microdeploy.build_records import BuildRecord
from microdeploy.camera import frame_storage
from microdeploy.errors import MicrodeployError
from microdeploy.model import schema
from microdeploy.model.board_fit import BoardFit, EstimateBasis, estimate_fit, linker_fit
from microdeploy.model.reader import Model, Operator, Tensor, read_model
from microdeploy.patching import Tiling
from microdeploy.planner import ArenaPlan, ScratchRequest, SpareRequest, align, plan_arena

LARGEST_TENSORS = 5


@dataclass(frozen=True)
class TensorSummary:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    bytes: int


@dataclass(frozen=True)
class OpSummary:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]
    options_type: str
    options: Mapping[str, object]
    macs: int
    supported: bool


@dataclass(frozen=True)
class RuntimeFacts:
    """What only the runtime's kernels know: their scratch requests (regular and spare, each in
    request order) and persistent tail."""

    scratch: tuple[ScratchRequest, ...]
    tail: int
    spare: tuple[SpareRequest, ...] = ()


@dataclass(frozen=True)
class ModelReport:
    name: str
    size_bytes: int
    description: str
    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    ops: tuple[OpSummary, ...]
    weights_bytes: int
    num_tensors: int
    plan: ArenaPlan
    arena_tail: int  # the runtime's persistent tail
    arena_bytes: int  # what the runtime needs: planned head (or planning arrays) + tail
    arena_source: str  # "runtime" (kernels' scratch and tail from the host runtime) or "estimate"
    largest_tensors: tuple[TensorSummary, ...]
    fit: BoardFit | None
    tiling: str = "auto"  # the patch-based execution policy the plan was made with

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def unsupported(self) -> tuple[OpSummary, ...]:
        return tuple(op for op in self.ops if not op.supported)

    @property
    def op_kinds(self) -> tuple[str, ...]:
        """Distinct op names in first-use order."""
        return tuple(dict.fromkeys(op.name for op in self.ops))


def supported_ops() -> frozenset[str]:
    """Builtin ops with a kernel file (kernels/<op name lowercase>.cc) in the runtime."""
    kernels = paths.runtime_dir() / "src" / "md" / "kernels"
    return frozenset(p.stem.upper() for p in kernels.glob("*.cc"))


def op_macs(model: Model, op: Operator) -> int:
    """Multiply-accumulates of one op (0 for ops without a weight product)."""
    tensors = model.tensors

    def shape(position: int, source: tuple[int, ...]) -> tuple[int, ...]:
        if position >= len(source) or source[position] < 0:
            return ()
        return tensors[source[position]].shape

    out = shape(0, op.outputs)
    out_elements = _count(out)
    if op.name == "CONV_2D":
        filt = shape(1, op.inputs)  # [out_ch, kh, kw, in_ch]
        return out_elements * _count(filt[1:]) if len(filt) == 4 else 0
    if op.name == "DEPTHWISE_CONV_2D":
        filt = shape(1, op.inputs)  # [1, kh, kw, out_ch]
        return out_elements * filt[1] * filt[2] if len(filt) == 4 else 0
    if op.name == "TRANSPOSE_CONV":
        filt = shape(1, op.inputs)  # [out_ch, kh, kw, in_ch]; every input tap fans out
        return _count(shape(2, op.inputs)) * _count(filt[:3]) if len(filt) == 4 else 0
    if op.name == "FULLY_CONNECTED":
        weights = shape(1, op.inputs)  # [units, depth]
        return out_elements * weights[-1] if weights else 0
    if op.name == "BATCH_MATMUL":
        lhs = shape(0, op.inputs)
        adj_x = bool(op.options.get("adj_x", False))
        depth = (lhs[-2] if adj_x else lhs[-1]) if len(lhs) >= 2 else 0
        return out_elements * depth
    if op.name == "SVDF":
        inp = shape(0, op.inputs)  # [batch, input_size]
        feature, time = shape(1, op.inputs), shape(2, op.inputs)
        batch = inp[0] if inp else 0
        return batch * (_count(feature) + _count(time))
    if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        inp = shape(0, op.inputs)  # [batch, time, input] (or [time, batch, input])
        steps = _count(inp[:-1]) if len(inp) == 3 else 0
        weights = [shape(i, op.inputs) for i in (*range(1, 9), 16)]
        return steps * sum(_count(w) for w in weights if w)
    return 0


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _summary(t: Tensor) -> TensorSummary:
    q = t.quantization
    return TensorSummary(
        index=t.index,
        name=t.name,
        shape=t.shape,
        dtype=t.dtype or t.type.name.lower(),
        scale=q.scale if q else (),
        zero_point=q.zero_point if q else (),
        bytes=t.nbytes,
    )


def runtime_facts(model_bytes: bytes) -> tuple[RuntimeFacts | None, str]:
    """Scratch requests and tail from the host build of the runtime (kernels' prepare runs, the
    plan itself is ours). Returns (None, reason) when the runtime cannot be built or cannot load
    the model (for instance an unsupported op)."""
    try:
        from microdeploy import host_runtime
    except ImportError:  # an install without the runtime tooling
        return None, "the host runtime wrapper is not installed"
    try:
        plan = host_runtime.plan_model(model_bytes, sanitize=False)
    except MicrodeployError as exc:
        return None, exc.message
    scratch = tuple(ScratchRequest(b.op, b.size) for b in plan.buffers if b.tensor == -1)
    spare = tuple(SpareRequest(r.op, r.min_bytes, r.max_bytes) for r in plan.spare)
    return RuntimeFacts(scratch, plan.tail, spare), ""


def runtime_arena_bytes(
    model: Model, plan: ArenaPlan, runtime: RuntimeFacts | None
) -> tuple[int, int]:
    """(tail, total) as the runtime lays out its arena (md/interpreter.cc). Without the runtime's
    facts the tail is its uint16 slot per tensor (8-byte aligned), a uint32 offset per tensor
    more when the head reaches 0xffff x 16 bytes, and a 16-byte node per op (kernels'
    persistent data unknown). While planning, the head holds the scratch requests (8 bytes each,
    16 for a spare one) and 28 bytes per planned buffer (tensors and scratch) and per spare
    request, which is more than the plan itself only for tiny models."""
    num_scratch = len(runtime.scratch) if runtime else 0
    num_spare = len(runtime.spare) if runtime else 0
    if runtime:
        tail = runtime.tail
    else:
        slots = (2 * len(model.tensors) + 7) // 8 * 8
        wide = (4 * len(model.tensors) + 7) // 8 * 8 if plan.head >= 0xFFFF * 16 else 0
        tail = align(slots + 16 * len(model.operators) + wide)
    planned_tensors = sum(1 for b in plan.buffers if b.tensor >= 0)
    requests = 8 * (num_scratch + 2 * num_spare)
    planning = align(align(requests) + 28 * (planned_tensors + num_scratch + num_spare))
    return tail, max(plan.head, planning) + tail


def analyze(
    model: Model,
    name: str = "",
    size_bytes: int | None = None,
    board: Board | None = None,
    runtime: RuntimeFacts | None = None,
    build: BuildRecord | None = None,
    build_note: str = "",
    tiling: Tiling = "auto",
    measure: bool = False,
    frames: tuple[int, int] = (0, 0),
) -> ModelReport:
    """`build`: a recorded build of this model for `board`; its linker figures replace the
    estimates (`build_note` says why there is none). `tiling`: the patch-based execution policy
    (docs/patch_execution.md). `measure`: estimate from the recorded builds of other models on
    the board (board_fit.py) rather than from constants only. `frames`: (RAM, flash) of a
    camera project's frames, added to the estimate (a build's figures include them)."""
    supported = supported_ops()
    ops = tuple(
        OpSummary(
            index=op.index,
            name=op.name,
            inputs=op.inputs,
            outputs=op.outputs,
            output_shapes=tuple(model.tensors[t].shape for t in op.outputs if t >= 0),
            options_type=op.options_type,
            options=op.options,
            macs=op_macs(model, op),
            supported=op.name in supported,
        )
        for op in model.operators
    )
    plan = plan_arena(
        model,
        runtime.scratch if runtime else (),
        tiling=tiling,
        spare=runtime.spare if runtime else (),
    )
    tail, arena = runtime_arena_bytes(model, plan, runtime)
    size = model.size if size_bytes is None else size_bytes
    activations = sorted(
        (model.tensors[b.tensor] for b in plan.buffers if b.tensor >= 0),
        key=lambda t: (-t.nbytes, t.index),
    )
    fit = None
    if board is not None and build is not None:
        fit = linker_fit(board, build)
    elif board is not None:
        measured = build_records.measured_on(board) if measure else []
        ops_used = [op.name for op in model.operators]
        inputs = sum(t.nbytes for t in model.inputs)
        fit = estimate_fit(board, size, ops_used, arena, inputs, measured, build_note, frames)
    return ModelReport(
        name=name,
        size_bytes=size,
        description=model.description,
        inputs=tuple(_summary(t) for t in model.inputs),
        outputs=tuple(_summary(t) for t in model.outputs),
        ops=ops,
        weights_bytes=sum(t.buffer_size for t in model.tensors if t.is_constant),
        num_tensors=len(model.tensors),
        plan=plan,
        arena_tail=tail,
        arena_bytes=arena,
        arena_source="runtime" if runtime else "estimate",
        largest_tensors=tuple(_summary(t) for t in activations[:LARGEST_TENSORS]),
        fit=fit,
        tiling=tiling,
    )


def analyze_file(
    path: Path,
    board: Board | None = None,
    use_runtime: bool = True,
    project: tuple[Path, dict] | None = None,
    tiling: Tiling = "auto",
) -> ModelReport:
    """Analyze a .tflite file; with use_runtime, kernels' scratch and tail come from the host
    runtime when it can be built and loads the model (else they are estimated). With a board,
    the fit uses the linker's figures of a recorded build when there is one: the build of
    `project` (folder, manifest) as its files are now when it is for that board and tiling, else
    the latest build of this model for that board and tiling by any project."""
    model = read_model(path)  # first: its errors name the file (missing, truncated...)
    data = path.read_bytes()
    runtime = runtime_facts(data)[0] if use_runtime else None
    build, note = None, ""
    if board is not None:
        if project is not None and _built_as(project[1], board, tiling):
            build, note = build_records.for_project(project[0], project[1], board)
        else:
            sha = hashlib.sha256(data).hexdigest()
            build, note = build_records.for_model(sha, board, tiling)
    return analyze(
        model,
        name=str(path),
        board=board,
        runtime=runtime,
        build=build,
        build_note=note,
        tiling=tiling,
        measure=True,
        frames=_project_frames(project, board),
    )


def _project_frames(project: tuple[Path, dict] | None, board: Board | None) -> tuple[int, int]:
    """(RAM, flash) of a camera project's frames when the board asked about is its own."""
    if project is None or board is None or project[1].get("board") != board.name:
        return 0, 0
    camera = project[1].get("camera")
    return frame_storage(camera) if isinstance(camera, dict) else (0, 0)


def _built_as(manifest: dict, board: Board, tiling: Tiling) -> bool:
    """The project's firmware is the one asked about: same board and tiling policy."""
    return manifest.get("board") == board.name and manifest.get("tiling", "auto") == tiling


def _json_value(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    return value


def report_as_dict(report: ModelReport) -> dict[str, object]:
    """The `inspect --json` object (keys documented in docs/architecture.md terms)."""

    def tensor(t: TensorSummary) -> dict[str, object]:
        return {
            "index": t.index,
            "name": t.name,
            "shape": list(t.shape),
            "dtype": t.dtype,
            "scale": list(t.scale),
            "zero_point": list(t.zero_point),
            "bytes": t.bytes,
        }

    result: dict[str, object] = {
        "model": report.name,
        "size_bytes": report.size_bytes,
        "description": report.description,
        "inputs": [tensor(t) for t in report.inputs],
        "outputs": [tensor(t) for t in report.outputs],
        "ops": [op.name for op in report.ops],
        "operators": [
            {
                "index": op.index,
                "name": op.name,
                "inputs": list(op.inputs),
                "outputs": list(op.outputs),
                "options": {k: _json_value(v) for k, v in op.options.items()},
                "macs": op.macs,
                "supported": op.supported,
            }
            for op in report.ops
        ],
        "macs": report.macs,
        "weights_bytes": report.weights_bytes,
        "num_tensors": report.num_tensors,
        "unsupported_ops": [{"index": op.index, "name": op.name} for op in report.unsupported],
        "arena_bytes": report.arena_bytes,
        "arena_head": report.plan.head,
        "arena_tail": report.arena_tail,
        "arena_source": report.arena_source,
        "tiling": report.tiling,
        "stage": None if report.plan.stage is None else list(report.plan.stage),
        "largest_tensors": [tensor(t) for t in report.largest_tensors],
        "plan": [
            {
                "tensor": b.tensor,
                "size": b.size,
                "first": b.first,
                "last": b.last,
                "offset": b.offset,
            }
            for b in report.plan.buffers
        ],
    }
    if report.fit is not None:
        fit = report.fit
        result.update(
            board=fit.board,
            fits=fit.fits,
            flash_needed=fit.flash_needed,
            flash_budget=fit.flash_budget,
            flash_margin=fit.flash_margin,
            ram_needed=fit.ram_needed,
            ram_budget=fit.ram_budget,
            ram_margin=fit.ram_margin,
            fit_source=fit.source,
            fit_note=fit.note,
            build=None if fit.build is None else _build_dict(fit.build),
            estimate_basis=None if fit.basis is None else _basis_dict(fit.basis),
        )
    return result


def _basis_dict(basis: EstimateBasis) -> dict[str, object]:
    """What `fit_source: "estimate"` was made from (a build of another model on the board)."""
    build = basis.build
    return {
        "build": None if build is None else {"project": build.project, "built_at": build.built_at},
        "kernels_measured": list(basis.kernels_measured),
        "kernels_guessed": list(basis.kernels_guessed),
    }


def _build_dict(build: BuildRecord) -> dict[str, object]:
    """The recorded build behind `fit_source: "linker"` (not its per-file hashes)."""
    keys = ("project", "built_at", "firmware", "app", "arena_bytes", "text", "data", "bss")
    return {key: getattr(build, key) for key in keys}


def non_default_options(op: OpSummary) -> dict[str, object]:
    """The options that differ from the schema's defaults (what a person wants to read)."""
    fields = {f.name: f for f in schema.OPTIONS_TABLES.get(op.options_type, ())}
    shown: dict[str, object] = {}
    for key, value in op.options.items():
        f = fields.get(key)
        if f is None:
            continue
        if f.kind.startswith("enum:"):
            default: object = schema.ENUMS[f.kind[5:]](int(f.default or 0)).name
        elif f.kind.startswith("vector:"):
            default = ()
        elif f.kind == "string":
            default = ""
        else:
            default = f.default
        if value != default:
            shown[key] = value
    return shown
