"""Runtime code size of one op set on the Cortex-M4: ours vs a real TFLM build, one rule.

    python -m microdeploy.bench.tflm_m4 --tflm-src DIR [--include DIR ...] [--json]

TFLM side: the TFLM sources the person-detection op set needs (`TFLM_SOURCES`, paths as in
github.com/tensorflow/tflite-micro: TFLM's interpreter, allocator, graph, context, greedy
planner, arena allocators, tflite_bridge, flatbuffer parsers and its reference kernels CONV_2D,
DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE, SOFTMAX) are compiled into a static library, as
TFLM's Makefile does (libtensorflow-microlite.a), with exactly the flags of our md-cortexm
platform for mps2-an386 (`MACHINE_FLAGS`, `CC_FLAGS`, `CXX_FLAGS`, `LINK_FLAGS`: -O2,
-ffunction-sections -fdata-sections, no exceptions/RTTI, newlib-nano, --gc-sections) plus
TFLM's own defines (`TFLM_DEFINES`). The application is TFLM's person_detection example reduced
to its core: a MicroMutableOpResolver<5> with the five ops, a MicroInterpreter over a static
arena, AllocateTensors(), then per input Invoke() and the int8 scores printed with MicroPrintf.
Its DebugLog (TFLM's platform hook, the equivalent of our port) formats with vsnprintf and
writes to the CMSDK UART0 of mps2-an386, as TFLM's cortex_m_generic port does through its
callback. It links with our platform's start-up code and linker script (the board's 1 MB / 256
KB budget), and runs on QEMU mps2-an386; its scores are checked against TFLM's Python
interpreter (microdeploy.reference) for the same inputs, so the size figure is that of a TFLM
build that works.

Ours: the same model through `init` + `build` for mps2-an386, once with the board's kernels
(Arm DSP) and once with -DMD_KERNELS_REFERENCE.

The rule, the same on both linker maps (`microdeploy.bench.mapfile.flash_objects`): flash bytes
(vector table, code, read-only data, exception tables, init arrays, .data's load image) per
input object, merged sections clamped to the next address; then
- runtime = the runtime's own objects: ours every object of lib/md_runtime except md/app (the
  protocol service) and md/ports (the board port); TFLM every object of its library.
- port = ours md/ports/*; TFLM's DebugLog (debug_log.o). Reported apart and in `with_port`.
- not counted: model data and inputs, the application (main, our protocol service), start-up
  code, libc/libm/libgcc/libstdc++ (both sides use newlib-nano's vsnprintf and the soft double
  helpers; "other" reports them), linker fill.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from microdeploy import paths
from microdeploy.bench.tflm_m4_app import write_app
from microdeploy.bench.tflm_m4_sizes import (
    GROUPS,
    TFLM_LIBRARY,
    SideSize,
    ours_size,
    tflm_size,
)
from microdeploy.errors import BuildError, MicrodeployError, ToolchainError

BOARD = "mps2-an386"
PERSON_DETECT = Path("tflm/person_detect.tflite")  # under ../shared/models
PERSON_DETECT_INPUTS = ("images/person.bmp", "images/no_person.bmp")

# The flags of microdeploy/pio/platforms/md-cortexm/builder/main.py for a Cortex-M4F board
# (tests check that they stay the same).
MACHINE_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
CC_FLAGS = ("-O2", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections", "-fno-common")
C_FLAGS = ("-std=gnu11",)
CXX_FLAGS = (
    "-std=gnu++17",
    "-fno-exceptions",
    "-fno-rtti",
    "-fno-threadsafe-statics",
    "-fno-use-cxa-atexit",
)
LINK_FLAGS = ("--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections")
# TFLM's Makefile defines for a Cortex-M build (TF_LITE_STATIC_MEMORY: no dynamic allocation,
# the lite TfLiteTensor; TF_LITE_MCU_DEBUG_LOG: logging through the platform's DebugLog).
TFLM_DEFINES = ("-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_MCU_DEBUG_LOG", "-DTF_LITE_DISABLE_X86_NEON")
# TFLM's Makefile BUILD_TYPEs that keep its logs (the scores are printed with MicroPrintf):
# "default" (DCHECKs and asserts on) and "release_with_logs" (-DNDEBUG).
TFLM_BUILD_TYPES = {"default": (), "release_with_logs": ("-DNDEBUG",)}
STACK_BYTES = 16384

# What the person-detection op set needs of TFLM, reference kernels (TFLM's default).
TFLM_SOURCES = (
    "tensorflow/lite/core/api/error_reporter.cc",
    "tensorflow/lite/core/api/flatbuffer_conversions.cc",
    "tensorflow/lite/core/c/common.cc",
    "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc",
    "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/kernels/kernel_util.cc",
    "tensorflow/lite/micro/arena_allocator/non_persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/single_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/flatbuffer_utils.cc",
    "tensorflow/lite/micro/kernels/conv.cc",
    "tensorflow/lite/micro/kernels/conv_common.cc",
    "tensorflow/lite/micro/kernels/depthwise_conv.cc",
    "tensorflow/lite/micro/kernels/depthwise_conv_common.cc",
    "tensorflow/lite/micro/kernels/kernel_util.cc",
    "tensorflow/lite/micro/kernels/pooling.cc",
    "tensorflow/lite/micro/kernels/pooling_common.cc",
    "tensorflow/lite/micro/kernels/reshape.cc",
    "tensorflow/lite/micro/kernels/reshape_common.cc",
    "tensorflow/lite/micro/kernels/softmax.cc",
    "tensorflow/lite/micro/kernels/softmax_common.cc",
    "tensorflow/lite/micro/memory_helpers.cc",
    "tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc",
    "tensorflow/lite/micro/memory_planner/linear_memory_planner.cc",
    "tensorflow/lite/micro/micro_allocation_info.cc",
    "tensorflow/lite/micro/micro_allocator.cc",
    "tensorflow/lite/micro/micro_context.cc",
    "tensorflow/lite/micro/micro_graph.cc",
    "tensorflow/lite/micro/micro_interpreter.cc",
    "tensorflow/lite/micro/micro_log.cc",
    "tensorflow/lite/micro/micro_op_resolver.cc",
    "tensorflow/lite/micro/micro_utils.cc",
    "tensorflow/lite/micro/tflite_bridge/flatbuffer_conversions_bridge.cc",
    "tensorflow/lite/micro/tflite_bridge/micro_error_reporter.cc",
    "tensorflow/lite/schema/schema_utils.cc",
)
# Compiled into the library when the tree has them (other TFLM versions' interpreters refer to
# them; the library only links in the members that are used, like TFLM's Makefile does).
TFLM_OPTIONAL_SOURCES = (
    "tensorflow/lite/micro/micro_resource_variable.cc",
    "tensorflow/lite/micro/micro_profiler.cc",
    "tensorflow/lite/micro/micro_string.cc",
    "tensorflow/lite/micro/micro_time.cc",
)
# Generated into the TFLM tree by TFLM's build (flatc); the tree must have it.
TFLM_HEADERS = ("tensorflow/lite/schema/schema_generated.h",)
_OUTPUT_LINE = re.compile(r"^md-tflm output (\d+):((?: -?\d+)+)\s*$")
_QEMU_TIMEOUT_S = 300.0
_PLATFORM = Path(__file__).resolve().parent.parent / "pio" / "platforms" / "md-cortexm"


@dataclass(frozen=True)
class TflmBuild:
    elf: Path
    map: Path
    size: SideSize


def check_tree(tflm_src: Path) -> None:
    missing = [p for p in TFLM_SOURCES + TFLM_HEADERS if not (tflm_src / p).is_file()]
    if missing:
        raise BuildError(
            f"{tflm_src} is not a TFLM source tree with what the op set needs: no {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            hint="give --tflm-src the directory holding tensorflow/lite/micro"
            " (schema_generated.h generated with flatc from tensorflow/lite/schema/schema.fbs)",
        )


def default_includes(build_dir: Path) -> list[Path]:
    """Third-party headers TFLM includes as "flatbuffers/..." and "fixedpoint/fixedpoint.h",
    from Debian's libflatbuffers-dev and libgemmlowp-dev, through a directory of links (never
    -I/usr/include itself: it holds the host's C library headers)."""
    shim = build_dir / "third_party"
    links = {
        "flatbuffers": Path("/usr/include/flatbuffers"),
        "gemmlowp/fixedpoint": Path("/usr/include/gemmlowp/fixedpoint"),
        "gemmlowp/internal": Path("/usr/include/gemmlowp/internal"),
    }
    for name, target in links.items():
        if not target.is_dir():
            raise ToolchainError(
                f"{target} is missing (TFLM includes it)",
                hint="apt-get install libflatbuffers-dev libgemmlowp-dev, or pass --include",
            )
        link = shim / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(target)
    return [shim, shim / "gemmlowp"]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ToolchainError(f"{name} is not on PATH", hint="apt-get install gcc-arm-none-eabi")
    return found


def _run(cmd: Sequence[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(list(cmd), capture_output=True, text=True, check=False, cwd=cwd)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed:\n{tail}", hint=" ".join(cmd))


def _linker_script(board_flash: int, board_ram: int, out: Path) -> Path:
    template = _PLATFORM / "ldscripts"
    text = (template / "cortexm.ld.in").read_text(encoding="utf-8")
    fields = {
        "FLASH_ORIGIN": "0x00000000",
        "FLASH_LENGTH": str(board_flash),
        "RAM_ORIGIN": "0x20000000",
        "RAM_LENGTH": str(board_ram),
        "STACK_BYTES": str(STACK_BYTES),
    }
    for key, value in fields.items():
        text = text.replace(f"@{key}@", value)
    out.write_text(text, encoding="utf-8")
    return out


def build_tflm(
    tflm_src: Path,
    build_dir: Path,
    model: bytes,
    inputs: Sequence[np.ndarray],
    arena_bytes: int,
    includes: Sequence[Path] = (),
    jobs: int = 2,
    build_type: str = "default",
    extra_sources: Sequence[str] = (),
) -> TflmBuild:
    """Compiles TFLM_SOURCES into a library and links the example against it."""
    from microdeploy.boards import get_board

    tflm_src = tflm_src.resolve()
    check_tree(tflm_src)
    gxx, gcc, ar = (_tool(f"arm-none-eabi-{t}") for t in ("g++", "gcc", "ar"))
    build_dir = build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    incs = [f"-I{p}" for p in [tflm_src, *(includes or default_includes(build_dir))]]
    defines = [*TFLM_DEFINES, *TFLM_BUILD_TYPES[build_type]]
    cxx = [gxx, *MACHINE_FLAGS, *CC_FLAGS, *CXX_FLAGS, *defines, *incs]
    objs_dir = build_dir / "tflm"
    objs_dir.mkdir(exist_ok=True)

    def compile_one(rel: str) -> Path:
        obj = objs_dir / (rel.replace("/", "_").removesuffix(".cc") + ".o")
        # Relative to the tree, as TFLM's Makefile compiles (__FILE__ in assert messages).
        _run([*cxx, "-c", rel, "-o", str(obj)], f"compiling {rel}", cwd=tflm_src)
        return obj

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        optional = [p for p in TFLM_OPTIONAL_SOURCES if (tflm_src / p).is_file()]
        objects = list(pool.map(compile_one, [*TFLM_SOURCES, *optional, *extra_sources]))
    library = build_dir / TFLM_LIBRARY
    library.unlink(missing_ok=True)
    _run([ar, "rcs", str(library), *map(str, objects)], "archiving TFLM")

    app = build_dir / "app"
    write_app(app, model, inputs, arena_bytes)
    app_objs = []
    for name in ("main", "debug_log", "model_data"):
        obj = app / f"{name}.o"
        _run([*cxx, "-c", str(app / f"{name}.cc"), "-o", str(obj)], f"compiling {name}.cc")
        app_objs.append(obj)
    startup_c = _PLATFORM / "startup" / "startup_cortexm.c"
    startup = app / "startup_cortexm.o"
    _run(
        [gcc, *MACHINE_FLAGS, *CC_FLAGS, *C_FLAGS, "-c", str(startup_c), "-o", str(startup)],
        "compiling startup_cortexm.c",
    )
    board = get_board(BOARD)
    script = _linker_script(board.flash_bytes, board.ram_bytes, build_dir / "md_cortexm.ld")
    elf, map_path = build_dir / "firmware.elf", build_dir / "firmware.map"
    _run(
        [
            gxx,
            *MACHINE_FLAGS,
            *LINK_FLAGS,
            f"-Wl,-Map={map_path}",
            "-Wl,--no-warn-rwx-segments",
            f"-T{script}",
            "-o",
            str(elf),
            str(startup),
            *map(str, app_objs),
            str(library),
            "-lm",
        ],
        "linking the TFLM firmware",
    )
    return TflmBuild(elf, map_path, tflm_size(map_path))


def run_qemu(elf: Path, timeout: float = _QEMU_TIMEOUT_S) -> tuple[list[list[int]], str]:
    """Runs the TFLM firmware on QEMU mps2-an386: the int8 scores per input and the output."""
    qemu = _tool("qemu-system-arm")
    cmd = [
        qemu,
        "-M",
        BOARD,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        str(elf),
    ]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"the TFLM firmware did not finish in {timeout:.0f} s on QEMU") from None
    scores: dict[int, list[int]] = {}
    for line in done.stdout.splitlines():
        match = _OUTPUT_LINE.match(line.strip())
        if match:
            scores[int(match.group(1))] = [int(v) for v in match.group(2).split()]
    if done.returncode != 0 or not scores:
        raise BuildError(
            f"the TFLM firmware failed on QEMU (exit {done.returncode}):"
            f" {done.stdout.strip()[-300:]}"
        )
    return [scores[i] for i in sorted(scores)], done.stdout


def build_ours(model: Path, kernels: str, on_line: Callable[[str], None] | None = None) -> Path:
    """Our firmware for the model on mps2-an386 (the bench's project, `kernels` "board" or
    "reference"); returns its linker map."""
    import fcntl

    from microdeploy.bench.firmware import KERNELS, bench_project, select_kernels
    from microdeploy.boards import get_board
    from microdeploy.build import build_project
    from microdeploy.project.generate import init_project

    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}")
    board = get_board(BOARD)
    project = bench_project(model, board, kernels)
    project.parent.mkdir(parents=True, exist_ok=True)
    with open(project.parent / f"{project.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        init_project(project, BOARD, model=model, force=True)
        select_kernels(project, board, kernels)
        built = build_project(project, on_line=on_line)
    return built.firmware.parent / "firmware.map"


def _inputs(model: bytes, files: Sequence[Path]) -> list[np.ndarray]:
    from microdeploy.device.inputs import load_input
    from microdeploy.model.reader import read_model

    graph = read_model(model).subgraphs[0]
    first = graph.tensors[graph.inputs[0]]
    return [load_input(f, "int8", tuple(first.shape)) for f in files]


def _git_head() -> str:
    done = subprocess.run(
        ["git", "-C", str(paths.repo_root()), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def measure(
    tflm_src: Path,
    model_path: Path,
    input_files: Sequence[Path],
    build_dir: Path,
    includes: Sequence[Path] = (),
    arena_bytes: int = 136 * 1024,
    log: Callable[[str], None] = lambda _: None,
    extra_sources: Sequence[str] = (),
) -> dict:
    from microdeploy import reference

    model = model_path.read_bytes()
    inputs = _inputs(model, input_files)
    if not reference.available():
        raise ToolchainError(
            "TFLM's Python interpreter (tflite-micro) is not installed: cannot check the build",
            hint="pip install tflite-micro",
        )
    expected = [[int(v) for v in reference.tflm_run(model, [a])[0].ravel()] for a in inputs]
    sizes: dict[str, SideSize] = {}
    for build_type in TFLM_BUILD_TYPES:
        log(f"building TFLM ({build_type}) from {tflm_src} ...")
        tflm = build_tflm(
            tflm_src,
            build_dir / build_type,
            model,
            inputs,
            arena_bytes,
            includes,
            build_type=build_type,
            extra_sources=extra_sources,
        )
        log(f"running {tflm.elf} on QEMU {BOARD} ...")
        device_scores, _ = run_qemu(tflm.elf)
        if device_scores != expected:
            raise BuildError(
                f"the TFLM build's scores {device_scores} differ from TFLM Python's {expected}"
            )
        sizes[build_type] = tflm.size
    base = sizes["default"]
    result: dict = {
        "board": BOARD,
        "ours_commit": _git_head(),
        "tflm_src": str(tflm_src),
        "model": str(model_path),
        "inputs": [str(f) for f in input_files],
        "scores": device_scores,
        "flags": [*MACHINE_FLAGS, *CC_FLAGS, *CXX_FLAGS, *LINK_FLAGS],
        "tflm_defines": list(TFLM_DEFINES),
        "tflm": asdict(sizes["default"]),
        "tflm_release_with_logs": asdict(sizes["release_with_logs"]),
    }
    for kernels in ("board", "reference"):
        log(f"building ours ({kernels} kernels) ...")
        size = ours_size(build_ours(model_path, kernels))
        result[f"ours_{kernels}"] = asdict(size)
        result[f"ratio_{kernels}"] = round(size.runtime_bytes / base.runtime_bytes, 3)
        result[f"ratio_{kernels}_with_port"] = round(size.with_port / base.with_port, 3)
    return result


def report(result: dict) -> str:
    base = result["tflm"]["runtime_bytes"]
    rows = [
        ("ours, DSP kernels", result["ours_board"]),
        ("ours, reference kernels", result["ours_reference"]),
        ("TFLM, reference kernels", result["tflm"]),
        ("TFLM, -DNDEBUG", result["tflm_release_with_logs"]),
    ]
    heads = ["runtime", "/TFLM", "port", "other", *GROUPS]
    lines = [
        f"{BOARD}: {result['model']} scores {result['scores']} (TFLM build = TFLM Python)",
        f"{'':24}" + "".join(f" {h[:9]:>9}" for h in heads),
    ]
    for name, size in rows:
        cells = [
            f"{size['runtime_bytes']:,}",
            f"{size['runtime_bytes'] / base:.3f}",
            f"{size['port_bytes']:,}",
            f"{size['other_bytes']:,}",
            *(f"{size['groups'][g]:,}" for g in GROUPS),
        ]
        lines.append(f"{name:24}" + "".join(f" {c:>9}" for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m microdeploy.bench.tflm_m4", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tflm-src", type=Path, required=True, help="TFLM source tree")
    parser.add_argument(
        "--include", type=Path, action="append", default=[], help="third-party include dir"
    )
    parser.add_argument(
        "--extra-src",
        action="append",
        default=[],
        help="another .cc of the tree to compile into the library (path in the tree)",
    )
    parser.add_argument("--model", type=Path, help="default: ../shared tflm/person_detect")
    parser.add_argument("--input", type=Path, action="append", default=[], help="input file")
    parser.add_argument("--arena", type=int, default=136 * 1024, help="TFLM's arena bytes")
    parser.add_argument("--build-dir", type=Path, help="default: the cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        shared = paths.shared_models_dir()
        model = args.model or shared / PERSON_DETECT
        inputs = args.input or [shared / f for f in PERSON_DETECT_INPUTS]
        build_dir = args.build_dir or paths.cache_dir() / "tflm_m4"
        result = measure(
            args.tflm_src,
            model,
            inputs,
            build_dir,
            args.include,
            args.arena,
            log=lambda text: print(text, file=sys.stderr),
            extra_sources=args.extra_src,
        )
    except MicrodeployError as exc:
        print(f"error: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
