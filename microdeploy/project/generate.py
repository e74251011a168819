"""`microdeploy init`: generates a PlatformIO project for one board and one model.

Three kinds of files (the manifest microdeploy.json records which is which):
- generated: platformio.ini, src/model_data.*, src/md_model_ops.*, src/md_config.h, src/md_app.h
  (the set-up every main.cpp shares), the board JSON and the model copy; rewritten by every init;
- vendored: lib/md_runtime/ (runtime sources the model and board need); refreshed by every init,
  files no longer needed are removed;
- user-owned: src/main.cpp, platformio_user.ini, .gitignore; written only when missing (or with
  --force). Anything else in the folder is never touched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from microdeploy import __version__, paths
from microdeploy.boards import ARM_DSP_CORES, Board, get_board
from microdeploy.camera import CameraSpec
from microdeploy.errors import ProjectError
from microdeploy.mlperf import project as mlperf_project
from microdeploy.patching import parse_tiling
from microdeploy.pio import core as pio_core
from microdeploy.project import app_meta, arena, camera_app, path_variants, type_variants, vendor
from microdeploy.project.model_facts import ModelFacts, read_model_facts
from microdeploy.project.sources import c_array_source
from microdeploy.zephyr import project as zephyr_project

MANIFEST_NAME = "microdeploy.json"
MANIFEST_FORMAT = 1
RUNTIME_LIB = "lib/md_runtime"
MODEL_COPY = "model/model.tflite"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class InitResult:
    project: Path
    board: Board
    model: ModelFacts
    arena_bytes: int
    arena_origin: str
    written: tuple[str, ...]  # generated + vendored files written
    user_created: tuple[str, ...]  # user-owned files created
    user_kept: tuple[str, ...]  # user-owned files left alone
    removed: tuple[str, ...]  # stale generated/vendored files deleted
    refreshed: bool  # the folder already was a microdeploy project
    app: app_meta.AppSpec = app_meta.AppSpec()  # app kind and class labels (manifest)
    camera: CameraSpec | None = None  # --input camera: the camera the firmware uses


def _template(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve_model(model: Path | None, example: str | None) -> tuple[Path, Path | None]:
    """The model file and an optional example input (raw bytes of input 0)."""
    if (model is None) == (example is None):
        raise ProjectError(
            "give exactly one of --model and --example",
            hint="e.g. `microdeploy init hello --board native --example hello_world`",
        )
    if model is not None:
        if not model.is_file():
            raise ProjectError(f"model file {model} does not exist", hint="check the --model path")
        return model.resolve(), None
    folder = paths.examples_dir() / str(example)
    if not (folder / "model.tflite").is_file():
        known = sorted(p.parent.name for p in paths.examples_dir().glob("*/model.tflite"))
        raise ProjectError(
            f"unknown example '{example}'",
            hint=f"known examples: {', '.join(known) or '(none)'}",
        )
    example_input = folder / "input.bin"
    return (folder / "model.tflite").resolve(), example_input if example_input.is_file() else None


def _read_manifest(project: Path) -> dict | None:
    path = project / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProjectError(
            f"{path} is not a readable microdeploy manifest ({exc})",
            hint="re-create the project with `microdeploy init ... --force`",
        ) from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path} is not a microdeploy manifest", hint="use --force")
    return data


def load_manifest(project: Path) -> dict:
    """The manifest of an existing project (for build, run, ...)."""
    if not project.is_dir():
        raise ProjectError(
            f"project folder {project} does not exist",
            hint="create it with `microdeploy init PROJECT --board BOARD --model MODEL`",
        )
    data = _read_manifest(project)
    if data is None:
        raise ProjectError(
            f"{project} is not a microdeploy project (no {MANIFEST_NAME})",
            hint="create it with `microdeploy init PROJECT --board BOARD --model MODEL`",
        )
    return data


def qemu_test_command(board: Board) -> list[str]:
    """How `pio test` runs a test firmware of an emulated board (exit code via semihosting)."""
    assert board.qemu is not None
    return [
        *board.qemu.command(),
        "-kernel",
        "${platformio.build_dir}/${this.__env__}/firmware.elf",
    ]


def platformio_ini(
    board: Board,
    camera: CameraSpec | None = None,
    tiling: str = "auto",
    model_defines: Sequence[str] = (),
) -> str:
    """platformio.ini; a camera project adds the camera's -D flags and driver library."""
    pio = board.platformio
    platform_lines: list[str] = []
    env_lines: list[str] = []
    if pio.is_own_platform:
        # Our platform by symlink:// (a plain path or file:// would be copied once and go
        # stale); our core dir with the offline tool-scons package.
        platform_lines.append(f"core_dir = {pio_core.core_dir()}")
        env_lines.append(f"platform = symlink://{pio_core.platform_dir(pio.platform)}")
        if not board.is_native:
            platform_lines.append("boards_dir = boards")
            env_lines.append(f"board = {pio.board}")
    else:
        env_lines.append(f"platform = {pio.platform}")
        env_lines.append(f"board = {pio.board}")
    if pio.framework:
        env_lines.append(f"framework = {pio.framework}")
    # ${user.*}: the user's additions from platformio_user.ini's [user] section, appended, so
    # they never replace the board/model flags (an [env] value there would: user_ini.py warns).
    env_lines.append("build_src_flags = -Wall -Wextra ${user.build_src_flags}")
    flags = board_defines(board, tiling) + (camera.build_defines() if camera else [])
    flags += model_defines  # type/path_variants.compile_out_defines: reach the runtime library too
    env_lines.append(f"build_flags = {' '.join(flags)} ${{user.build_flags}}")
    if camera is not None and camera.library:
        env_lines.append(f"lib_deps = {camera.library}")
    if pio.is_own_platform:
        # Our offline runner (test/test_custom_runner.py), never Unity from the registry.
        env_lines.append("test_framework = custom")
        if board.qemu:
            env_lines.append("test_testing_command =")
            env_lines.extend(f"    {arg}" for arg in qemu_test_command(board))
    if board.upload.protocol not in ("none", "qemu"):
        env_lines.append(f"upload_protocol = {board.upload.protocol}")
    if board.upload.speed:
        env_lines.append(f"upload_speed = {board.upload.speed}")
    env_lines.append(f"monitor_speed = {board.serial_baud}")
    env_lines.extend(f"{key} = {value}" for key, value in pio.extra)
    return _template("platformio.ini.in").format(
        board=board.name,
        env=board.name,
        platformio_section="\n".join(platform_lines) + ("\n" if platform_lines else ""),
        env_section="\n".join(env_lines),
    )


def board_defines(board: Board, tiling: str = "auto") -> list[str]:
    """-D flags the runtime's port and kernels take from the board definition (all sources), and
    the patch-based execution policy (md::kDefaultTiling; auto needs no flag)."""
    flags = [f"-DMD_SERIAL_BAUD={board.serial_baud}"]
    if board.clock_hz:
        flags.append(f"-DMD_CPU_HZ={board.clock_hz}")
    if board.kernels == "reference":
        flags.append("-DMD_KERNELS_REFERENCE")
    elif board.kernels == "portable" and board.core in ARM_DSP_CORES:
        flags.append("-DMD_KERNELS_PORTABLE")  # int8_opt.h would take the DSP path otherwise
    flags.extend(f"-D{define}" for define in board.defines)
    if tiling != "auto":
        flags.append(f"-DMD_TILING_{tiling.upper()}")
    return flags


def board_json(board: Board) -> str:
    """PlatformIO board manifest for our md-cortexm platform, from the board definition."""
    assert board.memory is not None and board.flash_bytes and board.ram_bytes
    build: dict[str, object] = {
        "cpu": board.core,
        "mcu": board.mcu,
        "f_cpu": f"{board.clock_hz}L",
        "md_flash_origin": board.memory.flash_origin,
        "md_ram_origin": board.memory.ram_origin,
    }
    if board.fpu not in ("", "none"):
        build.update({"fpu": board.fpu, "float_abi": "hard"})
    if board.qemu:
        build["md_qemu_machine"] = board.qemu.machine
    manifest = {
        "build": build,
        "frameworks": [],
        "name": board.description,
        "upload": {
            "maximum_size": board.flash_bytes,
            "maximum_ram_size": board.ram_bytes,
            "protocol": board.upload.protocol,
        },
        "url": "https://github.com/microdeploy",
        "vendor": "microdeploy board definition " + board.source.name,
    }
    return json.dumps(manifest, indent=2) + "\n"


def _op_sources(facts: ModelFacts) -> tuple[str, str]:
    names = facts.op_names
    header = _template("src/md_model_ops.h.in").format(
        op_list=", ".join(names), op_count=max(len(names), 1)
    )
    registrations = "\n".join(f"      &md::Register_{name}()," for name in names)
    source = _template("src/md_model_ops.cpp.in").format(registrations=registrations)
    return header, source


def _generated_files(
    board: Board,
    facts: ModelFacts,
    model_bytes: bytes,
    example_input: bytes,
    arena_bytes: int,
    arena_origin: str,
    camera: CameraSpec | None = None,
    tiling: str = "auto",
    frames: list[bytes] | None = None,
) -> dict[str, bytes]:
    version = vendor.runtime_version()
    ops_h, ops_cc = _op_sources(facts)
    model_defines = type_variants.compile_out_defines(
        facts.model
    ) + path_variants.compile_out_defines(facts.model)
    files = {
        "src/md_config.h": _template("src/md_config.h.in").format(
            board=board.name,
            runtime_version=version,
            model_sha16=facts.sha256[:16],
            arena_bytes=arena_bytes,
            arena_origin=arena_origin,
            input_bytes=sum(t.nbytes for t in facts.model.inputs),
        ),
        "src/model_data.h": _template("src/model_data.h.in"),
        "src/model_data.cpp": c_array_source(model_bytes, example_input, facts.sha256),
        "src/md_model_ops.h": ops_h,
        "src/md_model_ops.cpp": ops_cc,
        "src/md_app.h": _template("src/md_app.h"),
    }
    if board.is_zephyr:
        # A Zephyr application around the same src/ and vendored runtime (microdeploy/zephyr/).
        files.update(
            zephyr_project.generated_files(board, board_defines(board, tiling) + model_defines)
        )
    else:
        files["platformio.ini"] = platformio_ini(board, camera, tiling, model_defines)
        files[f"{RUNTIME_LIB}/library.json"] = _template("library.json.in").format(
            runtime_version=version
        )
    files.update(camera_app.generated_files(camera, board, frames))
    if board.platformio.is_own_platform and not board.is_native:
        files[f"boards/{board.platformio.board}.json"] = board_json(board)
    if board.platformio.is_own_platform:
        files["test/test_custom_runner.py"] = _template("test/test_custom_runner.py")
    encoded = {path: text.encode("utf-8") for path, text in files.items()}
    encoded[MODEL_COPY] = model_bytes
    return encoded


def _user_files(
    board: Board, app: str = app_meta.GENERIC, camera: bool = False
) -> dict[str, bytes]:
    main = mlperf_project.main_source() if mlperf_project.is_mlperf(app) else None
    if camera:
        main = camera_app.main_source()
    if board.is_zephyr:
        return {
            "src/main.cpp": (main or _template("src/main.cpp")).encode("utf-8"),
            **{rel: text.encode("utf-8") for rel, text in zephyr_project.user_files().items()},
            ".gitignore": b"build/\n",
        }
    return {
        "src/main.cpp": (main or _template("src/main.cpp")).encode("utf-8"),
        "platformio_user.ini": _template("platformio_user.ini.in")
        .format(env=board.name)
        .encode("utf-8"),
        ".gitignore": _template("gitignore.in").encode("utf-8"),
    }


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _existing_manifest(project: Path, force: bool) -> dict | None:
    """The manifest of the project already there (None if new); refuses foreign folders."""
    if project.exists() and not project.is_dir():
        raise ProjectError(f"{project} exists and is not a folder", hint="choose another path")
    old_manifest = _read_manifest(project) if project.is_dir() else None
    if project.is_dir() and old_manifest is None and any(project.iterdir()) and not force:
        raise ProjectError(
            f"{project} is not empty and is not a microdeploy project",
            hint="choose an empty or new folder, or pass --force to generate into it anyway",
        )
    return old_manifest


def _remove_stale(project: Path, old_manifest: dict | None, files: dict[str, bytes]) -> list[str]:
    """Deletes generated/vendored files of the previous init that this one no longer writes."""
    if not old_manifest:
        return []
    removed = []
    old_files = set(old_manifest.get("generated", {})) | set(old_manifest.get("vendored", {}))
    for rel in sorted(old_files - set(files)):
        stale = project / rel
        if stale.is_file() and stale.resolve().is_relative_to(project.resolve()):
            stale.unlink()
            removed.append(rel)
    return removed


def _write_user_files(
    project: Path, board: Board, force: bool, app: str = app_meta.GENERIC, camera: bool = False
) -> tuple[list[str], list[str]]:
    """(created, kept): user files are written only when missing, or with --force."""
    created, kept = [], []
    for rel, data in _user_files(board, app, camera).items():
        target = project / rel
        if target.exists() and not force:
            kept.append(rel)
        else:
            _write(target, data)
            created.append(rel)
    return created, kept


def init_project(
    project: Path,
    board_name: str,
    model: Path | None = None,
    example: str | None = None,
    force: bool = False,
    arena_bytes: int | None = None,
    app: str | None = None,
    labels: tuple[str, ...] | None = None,
    benchmark: str | None = None,
    input_kind: str = camera_app.SERIAL,
    tiling: str = "auto",
    camera_frames: Path | None = None,
) -> InitResult:
    """`tiling`: the patch-based execution policy compiled into the firmware (auto, off, on)."""
    tiling = parse_tiling(tiling)
    board = get_board(board_name)
    model_path, example_input_path = resolve_model(model, example)
    facts = read_model_facts(model_path)
    spec = app_meta.example_app(model_path.parent) if example else app_meta.AppSpec()
    spec = app_meta.check_app(
        app_meta.AppSpec(
            app or spec.app, spec.labels if labels is None else labels, benchmark=benchmark or ""
        ),
        facts.model,
    )
    camera, frames = camera_app.check_camera(
        input_kind, board, facts.model, spec.app, camera_frames
    )
    model_bytes = model_path.read_bytes()
    example_input = example_input_path.read_bytes() if example_input_path else b""
    old_manifest = _existing_manifest(project, force)

    runtime_dirs = mlperf_project.runtime_dirs(spec.app) + (camera.runtime_dirs() if camera else ())
    runtime_files = vendor.select_runtime_files(facts.op_names, board.port, runtime_dirs)
    size, origin = arena.arena_size(model_path, facts, arena_bytes, tiling, board.ram_bytes)
    pio_board = mlperf_project.project_board(board, spec.app)
    files = _generated_files(
        pio_board, facts, model_bytes, example_input, size, origin, camera, tiling, frames
    )
    mlperf_files = mlperf_project.generated_files(spec.app, spec.benchmark, facts.model)
    files.update({rel: text.encode("utf-8") for rel, text in mlperf_files.items()})
    vendored_names = set()
    for rel in runtime_files:
        name = f"{RUNTIME_LIB}/src/{rel.as_posix()}"
        files[name] = (vendor.runtime_src() / rel).read_bytes()
        vendored_names.add(name)

    project.mkdir(parents=True, exist_ok=True)
    removed = _remove_stale(project, old_manifest, files)
    for rel, data in files.items():
        _write(project / rel, data)
    created, kept = _write_user_files(project, board, force, spec.app, camera is not None)

    manifest = {
        "format": MANIFEST_FORMAT,
        "microdeploy_version": __version__,
        "runtime_version": vendor.runtime_version(),
        "board": board.name,
        "env": board.name,
        "model": {
            "source": str(model_path),
            "file": MODEL_COPY,
            "sha256": facts.sha256,
            "bytes": facts.size,
            "ops": list(facts.op_names),
        },
        "example": example,
        **app_meta.manifest_entry(spec),
        **camera_app.manifest_entry(camera, len(frames)),
        "arena_bytes": size,
        "arena_origin": origin,
        "tiling": tiling,
        "generated": {
            rel: _sha256(data) for rel, data in sorted(files.items()) if rel not in vendored_names
        },
        "vendored": {rel: _sha256(files[rel]) for rel in sorted(vendored_names)},
        "user_files": sorted(_user_files(board)),
    }
    _write(project / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return InitResult(
        project=project,
        board=board,
        model=facts,
        arena_bytes=size,
        arena_origin=origin,
        written=tuple(sorted(files)),
        user_created=tuple(created),
        user_kept=tuple(kept),
        removed=tuple(removed),
        refreshed=old_manifest is not None,
        app=spec,
        camera=camera,
    )
