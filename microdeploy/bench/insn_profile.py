"""Exact instructions of one Interpreter::Invoke() on an emulated board, by function.

The bench's SysTick figures resolve 40 instructions (one tick) per op; this resolves one. The
bench firmware (the normal generated application, as `bench` builds it) runs in QEMU with a
small TCG plugin (qemu_plugin/insn_profile.c, built here with the host's C compiler) that counts
every instruction executed between the first instruction of md::Interpreter::Invoke() and the
return address of its call in the protocol service, per address; addresses are attributed to
functions with the firmware's symbol table. One inference on the bench's inputs, unprofiled
unless asked (`profile=True` attaches the interpreter's profiler, as `run prof=1` does).

`dispatch_instructions` are those in the interpreter's own per-op work (DISPATCH: the invoke
loop, reading each op's operator table, patch-based stage bookkeeping, the profiler and its
clock reads); everything else in the window is the kernels' side: their code and the OpContext
accessors they call (tensor views, options, scratch), the latter also summed apart as
`accessor_instructions` (ACCESSORS). memcpy/memmove/memset are counted apart too
(`library_instructions`): kernels and the stage's window shifts both call them.

    python -m microdeploy.bench.insn_profile tflm/hello_world_int8 [--profile] [--json]
"""

from __future__ import annotations

import argparse
import bisect
import fcntl
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microdeploy import paths
from microdeploy.bench import firmware
from microdeploy.build import build_project
from microdeploy.device.launch import qemu_command
from microdeploy.errors import DeviceError, MicrodeployError, ToolchainError
from microdeploy.project.generate import init_project
from microdeploy.protocol.session import Device

_PLUGIN_DIR = Path(__file__).parent / "qemu_plugin"
_INVOKE = "md::Interpreter::Invoke()"

# The interpreter's own per-op work (full match on demangled names): the invoke loops, the
# patch-based stage's bookkeeping between its ops' bands (RunStage, EnsureStageRows,
# ComputeStageRows, InvokeOp), the error path, registration look-ups and operator-table reads
# (the profiled and error paths; LSTM's intermediates), the profiler and its clock.
DISPATCH = (
    r"md::Interpreter::(Invoke|InvokeWithStageOrProfiler|InvokeFailed|InvokeOp|RunStage"
    r"|EnsureStageRows|ComputeStageRows|RegistrationOf|LoadOp)\(.*",
    r"md::ModelView::(ReadOperator|Operator|OperatorCode)\(.*",
    r"md::MicroOpResolver<.*>::Find\(.*",
    r"md::Profiler::.*",
    r"md::port::Ticks\(\)",
)
# The runtime's services that kernels call from inside their invoke: tensor views built from the
# flatbuffer, options tables, scratch and user data. Counted on the kernels' side of the
# overhead figure (they run inside the kernel's window), shown apart because they are the
# interpreter's code.
ACCESSORS = (
    r"md::OpContext::.*",
    r"md::Interpreter::(Tensor|View|PlannedData|Scratch|UserData)\(.*",
    r"md::ModelView::(Tensor|View|Options)\(.*",
    r"md::TableView::.*",
)
LIBRARY = ("memcpy", "memmove", "memset", "__aeabi_memcpy", "__aeabi_memmove", "__aeabi_memset")


@dataclass(frozen=True)
class InvokeProfile:
    model: str
    board: str
    profiled: bool
    invokes: int
    by_function: dict[str, float]  # instructions per invoke

    @property
    def instructions(self) -> float:
        return sum(self.by_function.values())

    def _sum(self, patterns: Sequence[str]) -> float:
        regexes = [re.compile(p) for p in patterns]
        return sum(
            n for name, n in self.by_function.items() if any(r.fullmatch(name) for r in regexes)
        )

    @property
    def dispatch_instructions(self) -> float:
        return self._sum(DISPATCH)

    @property
    def accessor_instructions(self) -> float:
        return self._sum(ACCESSORS)

    @property
    def library_instructions(self) -> float:
        return self._sum([re.escape(name) for name in LIBRARY])

    def as_dict(self) -> dict:
        total = self.instructions
        return {
            "model": self.model,
            "board": self.board,
            "profiled": self.profiled,
            "instructions": total,
            "dispatch_instructions": self.dispatch_instructions,
            "dispatch_share": self.dispatch_instructions / total if total else 0.0,
            "accessor_instructions": self.accessor_instructions,
            "library_instructions": self.library_instructions,
            "by_function": dict(sorted(self.by_function.items(), key=lambda kv: -kv[1])),
        }


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(f"{name} is not installed", hint=hint)
    return path


def build_plugin() -> Path:
    """The plugin library, compiled once per source version into the cache."""
    source = _PLUGIN_DIR / "insn_profile.c"
    header = _PLUGIN_DIR / "qemu_plugin_api.h"
    digest = hashlib.sha256(source.read_bytes() + header.read_bytes()).hexdigest()[:16]
    library = paths.cache_dir() / "qemu_plugin" / f"insn_profile-{digest}.so"
    if library.is_file():
        return library
    compiler = shutil.which("cc") or _tool("gcc", "sudo apt-get install -y gcc")
    library.parent.mkdir(parents=True, exist_ok=True)
    tmp = library.with_suffix(".tmp")
    proc = subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", f"-I{_PLUGIN_DIR}", str(source), "-o", str(tmp)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ToolchainError(f"cannot build the QEMU plugin: {proc.stderr.strip()[:300]}")
    tmp.replace(library)
    return library


def _functions(elf: Path) -> tuple[list[int], list[str]]:
    nm = _tool("arm-none-eabi-nm", "sudo apt-get install -y gcc-arm-none-eabi")
    out = subprocess.run([nm, "-C", "-n", str(elf)], capture_output=True, text=True).stdout
    starts, names = [], []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "TtWw":
            starts.append(int(parts[0], 16) & ~1)
            names.append(parts[2])
    return starts, names


def _window(elf: Path, starts: list[int], names: list[str]) -> tuple[int, list[int]]:
    """Invoke()'s first instruction and the return address of every call to it."""
    if _INVOKE not in names:
        raise MicrodeployError(f"{elf} has no {_INVOKE}", hint="is it a microdeploy firmware?")
    on = starts[names.index(_INVOKE)]
    objdump = _tool("arm-none-eabi-objdump", "sudo apt-get install -y gcc-arm-none-eabi")
    text = subprocess.run([objdump, "-d", "-C", str(elf)], capture_output=True, text=True).stdout
    call = re.compile(r"^\s*([0-9a-f]+):\s+\S+ \S+\s+bl\s+[0-9a-f]+ <md::Interpreter::Invoke\(\)>")
    off = [int(m.group(1), 16) + 4 for line in text.splitlines() if (m := call.match(line))]
    if not off:
        raise MicrodeployError(f"{elf}: no call to {_INVOKE} found")
    return on, off


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open(url: str, proc: subprocess.Popen, timeout_s: float = 30.0) -> Device:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return Device.open(url)
        except DeviceError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def profile_invoke(
    model: Path,
    board_name: str,
    inputs: Sequence[np.ndarray],
    profile: bool = False,
    kernels: str = "board",
    tiling: str = "auto",
) -> InvokeProfile:
    """One inference of `model` on the bench's firmware for `board_name`, counted exactly."""
    board = firmware.counting_board(board_name)
    plugin = build_plugin()
    project = firmware.bench_project(model, board, kernels, tiling)
    project.parent.mkdir(parents=True, exist_ok=True)
    with open(project.parent / f"{project.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        init_project(project, board.name, model=model, force=True, tiling=tiling)
        firmware.select_kernels(project, board, kernels)
        elf = build_project(project).firmware
        starts, names = _functions(elf)
        on, off = _window(elf, starts, names)
        if len(off) != 1:
            raise MicrodeployError(f"{elf}: {len(off)} calls to {_INVOKE}, expected one")
        with tempfile.TemporaryDirectory(prefix="md-insn-") as tmp:
            counts = Path(tmp) / "counts.txt"
            port = _free_port()
            command = qemu_command(board, elf, port, Path(tmp) / "debug.log")
            command += ["-plugin", f"{plugin},on={on:#x},off={off[0]:#x},out={counts}"]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                with _open(f"socket://127.0.0.1:{port}", proc) as device:
                    info = device.wait_boot(timeout=30.0)
                    for tensor, array in zip(info.inputs, inputs, strict=True):
                        device.load_input(tensor.index, np.ascontiguousarray(array).tobytes())
                    device.run(1, outputs=False, profile=profile, timeout=600.0)
                    try:
                        device.send("exit", code=0)
                    except DeviceError:
                        pass
                proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            lines = counts.read_text().splitlines() if counts.is_file() else []
    if not lines:
        raise DeviceError("QEMU wrote no instruction counts", hint="does -plugin work here?")
    invokes = int(lines[0].split()[1])
    per: dict[str, float] = {}
    for line in lines[1:]:
        address, count = line.split()
        i = bisect.bisect_right(starts, int(address, 16)) - 1
        name = names[i] if i >= 0 else "?"
        per[name] = per.get(name, 0.0) + int(count) / max(invokes, 1)
    return InvokeProfile(str(model), board.name, profile, invokes, per)


def main(argv: Sequence[str] | None = None) -> int:
    from microdeploy.bench.models import bench_inputs, resolve
    from microdeploy.model.reader import read_model

    parser = argparse.ArgumentParser(prog="python -m microdeploy.bench.insn_profile")
    parser.add_argument("model", help="a .tflite file or a bench model name")
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--profile", action="store_true", help="attach the interpreter's profiler")
    parser.add_argument("--kernels", default="board", choices=firmware.KERNELS)
    parser.add_argument("--top", type=int, default=25, help="functions listed (text output)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        model = resolve(args.model)
        inputs = bench_inputs(read_model(model.path.read_bytes()))
        result = profile_invoke(model.path, args.board, inputs, args.profile, args.kernels)
    except MicrodeployError as exc:
        print(f"error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""))
        return 1
    data = result.as_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{model.name} on {result.board}, {'profiled' if result.profiled else 'unprofiled'}: "
        f"{data['instructions']:,.0f} instructions per Invoke(); interpreter dispatch "
        f"{data['dispatch_instructions']:,.0f} ({100 * data['dispatch_share']:.2f}%), "
        f"OpContext accessors (inside the kernels) {data['accessor_instructions']:,.0f}, "
        f"memcpy/memmove/memset {data['library_instructions']:,.0f}"
    )
    for name, n in list(data["by_function"].items())[: args.top]:
        print(f"{n:12,.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
