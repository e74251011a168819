"""Instructions per inference on an emulated board, and the firmware's flash and RAM.

The model goes into a generated project in the cache (`init` with the board, then `build`), the
firmware is started in QEMU (`flash`), and the bench sends its inputs over the serial protocol
and asks for two unprofiled inferences and one profiled one. Under QEMU `-icount shift=0` one
instruction is one nanosecond of virtual time, so the board's SysTick (hz ticks per second)
counts exactly 1e9 / hz instructions per tick (40 at 25 MHz): ticks x 40 is the instruction
count, repeatable run to run (the firmware starts each inference on a tick edge). The figure is
the smaller of the two unprofiled inferences: the firmware attaches its profiler only to a run
that reports a profile, so these pay for no clock reads. The per-op profile comes from the
profiled inference, each op within one tick (ops do not start on a tick edge). QEMU counts
instructions, not cycles: no pipeline, no wait states.

The firmware is the normal application `init` generates (protocol service + profiler), so per-op
ticks are the interpreter's profiler records around each kernel's invoke, and the interpreter
overhead is (unprofiled inference ticks - sum of op ticks) / unprofiled inference ticks:
everything outside the kernels' invoke in an inference as it runs in production. Each op's
ticks include the part of the profiler's two clock reads that falls inside its window (a few
instructions), which makes this figure slightly low; `profiled_interpreter_overhead` is the same
ratio within the profiled inference, the profiler's clock reads and bookkeeping all counted as
overhead (an upper bound).
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microdeploy import paths
from microdeploy.bench.mapfile import flash_report
from microdeploy.boards import Board, get_board
from microdeploy.build import build_project
from microdeploy.device.flash import flash, stop_device
from microdeploy.errors import BoardError, DeviceError, ModelError
from microdeploy.project.generate import init_project
from microdeploy.protocol.session import Device, RunResult

_RUNS = 2  # unprofiled inferences; one profiled inference follows
_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class OpCost:
    op: int
    name: str
    ticks: int
    instructions: int


@dataclass(frozen=True)
class FirmwareSize:
    flash_bytes: int  # text + data, from the linker (`build --json`)
    ram_bytes: int  # data + bss (arena and stack included)
    arena_bytes: int  # the arena compiled into the firmware
    model_bytes: int  # model + example input in flash
    runtime_bytes: int  # interpreter, planner, kernels, port
    app_bytes: int  # protocol service and the project's sources
    other_bytes: int  # C/C++ library, start-up, alignment
    runtime_objects: dict[str, int]  # runtime bytes per object file, largest first

    @property
    def flash_without_model(self) -> int:
        return self.flash_bytes - self.model_bytes


@dataclass(frozen=True)
class DeviceMeasurement:
    board: str
    hz: int
    instructions_per_tick: int
    ticks: int  # the unprofiled inference
    profiled_ticks: int  # the profiled inference (the profiler's clock reads included)
    ops: list[OpCost]
    outputs: list[np.ndarray]
    size: FirmwareSize

    @property
    def instructions(self) -> int:
        return self.ticks * self.instructions_per_tick

    @property
    def profiled_instructions(self) -> int:
        return self.profiled_ticks * self.instructions_per_tick

    @property
    def interpreter_overhead(self) -> float:
        return _outside_share(self.ticks, self.ops)

    @property
    def profiled_interpreter_overhead(self) -> float:
        return _outside_share(self.profiled_ticks, self.ops)


def _outside_share(ticks: int, ops: Sequence[OpCost]) -> float:
    """The share of `ticks` outside the kernels' invoke (never below 0: per-op ticks are each
    rounded to one tick)."""
    inside = sum(op.ticks for op in ops)
    return max(0, ticks - inside) / ticks if ticks else 0.0


def counting_board(board_name: str) -> Board:
    """The board, if it is emulated with QEMU counting instructions (-icount shift=0)."""
    board = get_board(board_name)
    args = list(board.qemu.extra_args) if board.qemu is not None else []
    counts = any(
        a == "-icount" and i + 1 < len(args) and args[i + 1].split(",")[0] in ("0", "shift=0")
        for i, a in enumerate(args)
    )
    if board.is_native or board.upload.protocol != "qemu" or not counts:
        raise BoardError(
            f"board {board.name} does not count instructions",
            hint="instructions are measured on an emulated board run with `-icount shift=0`"
            " (e.g. --board mps2-an386); --board native measures host latency only",
        )
    return board


def bench_project(model: Path, board: Board, kernels: str = "board", tiling: str = "auto") -> Path:
    sha = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    suffix = ("" if kernels == "board" else f"-{kernels}") + (
        "" if tiling == "auto" else f"-tiling-{tiling}"
    )
    return paths.cache_dir() / "bench" / f"{board.name}-{sha}{suffix}"


# PlatformIO runs this before building; defines appended to the environment there reach every
# source, the vendored runtime library included (build_flags in platformio_user.ini would
# replace the generated project's own build_flags instead of adding to them).
_REFERENCE_SCRIPT = """\
# Written by `microdeploy bench`: build the runtime with its reference kernels only.
Import("env")  # noqa: F821
env.Append(CPPDEFINES=["MD_KERNELS_REFERENCE"])  # noqa: F821
"""


def select_kernels(project: Path, board: Board, kernels: str) -> None:
    if kernels == "board":
        return  # init --force wrote the default platformio_user.ini: the board's own kernels
    (project / "bench_reference_kernels.py").write_text(_REFERENCE_SCRIPT, encoding="utf-8")
    (project / "platformio_user.ini").write_text(
        f"[env:{board.name}]\nextra_scripts = pre:bench_reference_kernels.py\n", encoding="utf-8"
    )


KERNELS = ("board", "reference")


def measure_on_board(
    model: Path,
    board_name: str,
    inputs: Sequence[np.ndarray],
    on_line: Callable[[str], None] | None = None,
    kernels: str = "board",
    tiling: str = "auto",
) -> DeviceMeasurement:
    """`kernels`: "board" (the kernels the board definition selects, optimized where the core
    allows) or "reference" (the runtime built with -DMD_KERNELS_REFERENCE). `tiling`: the
    firmware's patch-based execution policy (init --tiling)."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, not {kernels!r}")
    board = counting_board(board_name)
    project = bench_project(model, board, kernels, tiling)
    project.parent.mkdir(parents=True, exist_ok=True)
    # Two benches of one model on one board share the project: one at a time.
    with open(project.parent / f"{project.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _measure(model, board, project, inputs, on_line, kernels, tiling)


def _measure(
    model: Path,
    board: Board,
    project: Path,
    inputs: Sequence[np.ndarray],
    on_line: Callable[[str], None] | None,
    kernels: str,
    tiling: str = "auto",
) -> DeviceMeasurement:
    init = init_project(project, board.name, model=model, force=True, tiling=tiling)
    select_kernels(project, board, kernels)
    built = build_project(project, on_line=on_line)
    report = flash_report(built.firmware.parent / "firmware.map")
    parts = report.parts
    size = FirmwareSize(
        flash_bytes=built.size.flash_bytes,
        ram_bytes=built.size.ram_bytes,
        arena_bytes=init.arena_bytes,
        model_bytes=parts["model"],
        runtime_bytes=parts["runtime"],
        app_bytes=parts["app"],
        other_bytes=parts["other"],
        runtime_objects=report.runtime_objects,
    )
    started = flash(project)
    try:
        with Device.open(started.state.port) as device:
            info = device.wait_boot(timeout=30.0)
            if not info.ready:
                raise ModelError(
                    f"the firmware could not set the model up: {info.error or info.status}",
                    hint=f"see the project the bench generated: {project}",
                )
            if info.hz <= 0 or 1_000_000_000 % info.hz:
                raise DeviceError(f"the board reports a {info.hz} Hz clock", "check its port")
            runs: list[RunResult] = []
            for profile in [False] * _RUNS + [True]:
                # No input staging in the generated app: inputs count as consumed by a run.
                for tensor, array in zip(info.inputs, inputs, strict=True):
                    device.load_input(tensor.index, np.ascontiguousarray(array).tobytes())
                runs.append(device.run(1, outputs=True, profile=profile, timeout=_TIMEOUT_S))
            try:
                device.send("exit", code=0)
            except DeviceError:
                pass
    finally:
        stop_device(project)
    *plain, profiled = runs
    best = min(plain, key=lambda run: run.inferences[-1].ticks)
    per_tick = 1_000_000_000 // info.hz
    return DeviceMeasurement(
        board=board.name,
        hz=info.hz,
        instructions_per_tick=per_tick,
        ticks=best.inferences[-1].ticks,
        profiled_ticks=profiled.inferences[-1].ticks,
        ops=[OpCost(p.op, p.name, p.ticks, p.ticks * per_tick) for p in profiled.profile],
        outputs=list(best.outputs),
        size=size,
    )
