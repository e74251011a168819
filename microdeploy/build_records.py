"""Linker figures of past builds, kept so `inspect` can show real flash/RAM use, not estimates.

`build` writes one JSON record per firmware under cache_dir()/builds/<model sha256>/<firmware
key>.json. The firmware key hashes every input the firmware is built from: the project's
generated, vendored and user-owned files as they are on disk (the model, the arena size in
md_config.h, the kernels, main.cpp, platformio.ini ...) and the board definition. A later build of
the same inputs overwrites its record; a changed input makes a new key, so an old record is never
taken for a firmware that was not built.

Two look-ups:
- `for_project(project)`: the record of the project's current files (none if they changed since
  the last build);
- `for_model(sha256, board)`: the latest record of any project that built this very model for this
  board with the board definition and runtime sources as they are now (the runtime files it
  vendored are compared with runtime_cpp/src);
- `measured_on(board)`: current records of any model on the board whose linker map split the
  kernels and model data from the rest: the basis of estimates for models not built yet.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from microdeploy import paths
from microdeploy.bench import mapfile
from microdeploy.boards import Board
from microdeploy.camera import frame_storage
from microdeploy.errors import BuildError, ModelError
from microdeploy.model.reader import read_model

RECORD_FORMAT = 1
RUNTIME_LIB_SRC = "lib/md_runtime/src/"  # where init vendors runtime_cpp/src (project.generate)


@dataclass(frozen=True)
class BuildRecord:
    """What one build of one firmware measured (`size` on the ELF, as `build --json` reports)."""

    project: str
    board: str
    built_at: str  # ISO 8601, UTC, seconds
    firmware: str
    model_sha256: str
    firmware_key: str
    board_key: str
    app: str
    arena_bytes: int  # MD_ARENA_BYTES compiled into this firmware
    flash_bytes: int
    ram_bytes: int
    text: int
    data: int
    bss: int
    flash_budget: int | None
    ram_budget: int | None
    runtime_files: dict[str, str]  # path under runtime_cpp/src -> sha256 of the vendored copy
    # From the linker map when the platform writes one (md-cortexm): flash bytes of each kernel
    # (by op name) and of the model data (model + compiled-in example input); else empty/None.
    kernel_flash: dict[str, int] = field(default_factory=dict)
    model_flash: int | None = None
    model_bytes: int = 0  # the .tflite's size (manifest)
    input_bytes: int = 0  # the model's input tensors: main.cpp's input staging copy (RAM)
    tiling: str = "auto"  # the patch-based execution policy compiled in (manifest)
    frame_ram: int = 0  # a camera project's static frame buffer (camera.frame_storage)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def records_dir() -> Path:
    return paths.cache_dir() / "builds"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def board_key(board: Board) -> str:
    """Hash of everything a board definition says (budgets, kernels, defines, platform...)."""
    return _sha256(repr(board).encode("utf-8"))


def _project_files(project: Path, manifest: dict) -> dict[str, str]:
    """sha256 of every file the firmware is built from, as it is on disk now."""
    names = set(manifest.get("generated", {})) | set(manifest.get("vendored", {}))
    names |= set(manifest.get("user_files", []))
    hashes = {}
    for rel in sorted(names):
        path = project / rel
        hashes[rel] = _sha256(path.read_bytes()) if path.is_file() else "missing"
    return hashes


def firmware_key(project: Path, manifest: dict, board: Board) -> str:
    inputs = {"files": _project_files(project, manifest), "board": board_key(board)}
    return _sha256(json.dumps(inputs, sort_keys=True).encode("utf-8"))


def _model_sha(manifest: dict) -> str:
    model = manifest.get("model")
    return str(model.get("sha256", "")) if isinstance(model, dict) else ""


def _record_path(model_sha: str, key: str) -> Path:
    return records_dir() / model_sha / f"{key}.json"


def record_build(
    project: Path,
    manifest: dict,
    board: Board,
    firmware: Path,
    text: int,
    data: int,
    bss: int,
) -> BuildRecord | None:
    """Writes the record of a build that produced `firmware`; None when the manifest names no
    model. A cache that cannot be written is no reason to fail a build: the record is skipped."""
    model_sha = _model_sha(manifest)
    if not model_sha:
        return None
    vendored = manifest.get("vendored", {})
    runtime_files = {
        rel[len(RUNTIME_LIB_SRC) :]: _sha256((project / rel).read_bytes())
        for rel in sorted(vendored)
        if rel.startswith(RUNTIME_LIB_SRC) and (project / rel).is_file()
    }
    kernel_flash, model_flash = _map_breakdown(firmware)
    record = BuildRecord(
        project=str(project),
        board=board.name,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        firmware=str(firmware),
        model_sha256=model_sha,
        firmware_key=firmware_key(project, manifest, board),
        board_key=board_key(board),
        app=str(manifest.get("app", "generic")),
        arena_bytes=int(manifest.get("arena_bytes", 0)),
        flash_bytes=text + data,
        ram_bytes=data + bss,
        text=text,
        data=data,
        bss=bss,
        flash_budget=board.flash_bytes,
        ram_budget=board.ram_bytes,
        runtime_files=runtime_files,
        kernel_flash=kernel_flash,
        model_flash=model_flash,
        model_bytes=int(manifest["model"].get("bytes", 0)),
        input_bytes=_input_bytes(project / str(manifest["model"].get("file", ""))),
        tiling=str(manifest.get("tiling", "auto")),
        frame_ram=frame_storage(manifest["camera"])[0] if "camera" in manifest else 0,
    )
    path = _record_path(model_sha, record.firmware_key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds: one file each
        tmp.write_text(json.dumps({"format": RECORD_FORMAT, **record.as_dict()}, indent=2) + "\n")
        tmp.replace(path)  # readers never see half a record
    except OSError:
        return None
    return record


def _input_bytes(model_file: Path) -> int:
    try:
        return sum(t.nbytes for t in read_model(model_file).inputs)
    except ModelError:
        return 0


def _map_breakdown(firmware: Path) -> tuple[dict[str, int], int | None]:
    """(flash per kernel op, flash of the model data) from the map beside the ELF, if any."""
    map_file = firmware.with_suffix(".map")
    if firmware.suffix != ".elf" or not map_file.is_file():
        return {}, None
    try:
        report = mapfile.flash_report(map_file)
    except BuildError:
        return {}, None
    kernels: dict[str, int] = {}
    for obj, size in report.runtime_objects.items():  # "md/kernels/conv_2d.o": bytes
        folder, _, name = obj.rpartition("/")
        if folder == "md/kernels":  # variants in kernels/<subdir>/ (none today) stay in the rest
            op = name.split(".")[0].upper()
            kernels[op] = kernels.get(op, 0) + size
    return kernels, report.parts["model"] or None


def _load(path: Path) -> BuildRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("format", None) != RECORD_FORMAT:
            return None
        return BuildRecord(**data)
    except (OSError, ValueError, TypeError):
        return None  # unreadable or from another format: as if never recorded


def _records(model_sha: str) -> list[BuildRecord]:
    folder = records_dir() / model_sha
    found = [_load(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [r for r in found if r is not None and r.model_sha256 == model_sha]


def _current(record: BuildRecord, board: Board) -> bool:
    """Built for this board as it is defined now, from the runtime sources as they are now."""
    return (
        record.board == board.name
        and record.board_key == board_key(board)
        and _runtime_unchanged(record)
    )


def _runtime_unchanged(record: BuildRecord) -> bool:
    """The runtime sources the build vendored are still those of runtime_cpp/src."""
    src = paths.runtime_dir() / "src"
    for rel, digest in record.runtime_files.items():
        path = src / rel
        if not path.is_file() or _sha256(path.read_bytes()) != digest:
            return False
    return bool(record.runtime_files)


def for_model(model_sha: str, board: Board, tiling: str = "auto") -> tuple[BuildRecord | None, str]:
    """The latest valid record of this model on this board built with this tiling policy, or
    (None, why there is none)."""
    records = [r for r in _records(model_sha) if r.board == board.name and r.tiling == tiling]
    if not records:
        policy = "" if tiling == "auto" else f" with --tiling {tiling}"
        return None, f"no build of this model for {board.name}{policy} recorded"
    current = [r for r in records if _current(r, board)]
    if not current:
        return None, (
            f"the recorded build(s) of this model for {board.name} predate changes to the "
            "board definition or the runtime"
        )
    return max(current, key=lambda r: r.built_at), ""


def for_project(project: Path, manifest: dict, board: Board) -> tuple[BuildRecord | None, str]:
    """The record of the project's firmware as its files are now, or (None, why not)."""
    model_sha = _model_sha(manifest)
    key = firmware_key(project, manifest, board)
    record = next((r for r in _records(model_sha) if r.firmware_key == key), None)
    if record is None:
        return None, f"no build of {project} with its current files recorded"
    return record, ""


def measured_on(board: Board) -> list[BuildRecord]:
    """Current builds of any model on this board whose map split kernels and model from the rest,
    the best basis for an estimate first: the generic app (what `init --model` gives), newest."""
    root = records_dir()
    found = [_load(p) for p in sorted(root.glob("*/*.json"))] if root.is_dir() else []
    usable = [r for r in found if r is not None and r.model_flash is not None]
    usable = [r for r in usable if _current(r, board)]
    return sorted(usable, key=lambda r: (r.app == "generic", r.built_at), reverse=True)
