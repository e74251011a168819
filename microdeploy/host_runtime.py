"""Build runtime_cpp's host runner (tools/md_host_run.cc) with g++ and run models on it.

The runner is compiled from runtime_cpp/src/md/*.cc, every kernels/*.cc present, the native port
(ports/native/port.cc, which provides the clock) and tools/md_host_run.cc. md/app/ is not part
of it. Objects and the linked binary are cached under paths.cache_dir()/host_runner, keyed by a
hash of the source, every header under src/md, the flags and the compiler version, so a changed
source rebuilds only its object. A file lock keeps parallel pytest workers from racing.

Two flavours: `sanitize=True` (default; -O1 with AddressSanitizer + UndefinedBehaviorSanitizer,
for tests) and `sanitize=False` (-O2, for timing). Either with the optimized int8 kernels
(`kernels="optimized"`, default: the SSE2 paths on x86 hosts), the plain C++ optimized paths
(`kernels="portable"`, -DMD_KERNELS_PORTABLE: what non-SIMD targets run) or the reference ones
only (`kernels="reference"`, which compiles with -DMD_KERNELS_REFERENCE; see
runtime_cpp/src/md/kernels/int8_opt.h).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microdeploy import paths
from microdeploy.errors import BuildError, MicrodeployError, ModelError, ToolchainError
from microdeploy.model.reader import read_model
from microdeploy.patching import TILING_MODES

_COMMON_FLAGS = (
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fno-exceptions",
    "-fno-rtti",
)
# GCC leaves float-cast-overflow out of -fsanitize=undefined (clang, which the fuzzer uses,
# has it in): named here so a float -> int cast out of range fails the tests on both.
_SANITIZE_FLAGS = (
    "-O1",
    "-g",
    "-fsanitize=address,undefined,float-cast-overflow",
    "-fno-sanitize-recover=all",
)
_RELEASE_FLAGS = ("-O2", "-g")
KERNEL_FLAVOURS = ("optimized", "reference", "portable")
_KERNEL_FLAGS = {
    "optimized": (),
    "reference": ("-DMD_KERNELS_REFERENCE",),
    "portable": ("-DMD_KERNELS_PORTABLE",),
}
_RUN_TIMEOUT_S = 600
_BUILD_JOBS = 2  # the machines we run on have two cores
_KEEP_BUILDS = 6  # newest binaries / objects per source kept in the cache

_DTYPES: dict[str, np.dtype] = {
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "float32": np.dtype(np.float32),
    "bool": np.dtype(np.bool_),
}


class HostRunnerError(ModelError):
    """The runtime refused or failed to run the model; `kind` is its Status name."""

    def __init__(self, kind: str, message: str, hint: str = "", needed: int | None = None):
        super().__init__(message, hint)
        self.kind = kind
        self.needed = needed


class HostRunnerCrash(MicrodeployError):
    """The runner died without its JSON answer (a runtime bug, e.g. a sanitizer report)."""


@dataclass(frozen=True)
class ProfileEntry:
    op: int
    name: str
    ticks: int


@dataclass(frozen=True)
class HostRunResult:
    outputs: list[np.ndarray]  # shaped, in the model's output dtypes
    arena_bytes: int
    arena_head: int
    arena_tail: int
    invoke_us: list[float]
    clock: str
    ticks_per_second: int
    profile: list[ProfileEntry]


@dataclass(frozen=True)
class PlannedBuffer:
    id: int
    tensor: int  # -1 for a kernel's scratch buffer
    op: int  # requesting op for scratch, -1 for tensors
    size: int
    first: int
    last: int
    offset: int
    alias: int = -1  # id of the buffer whose bytes it shares in place (-1: placed on its own)


@dataclass(frozen=True)
class SpareRecord:
    """A kernel's spare scratch request (kernel.h RequestSpareScratch) and what it got: `bytes` at
    head `offset`, or bytes 0 and offset -1 for nothing."""

    op: int
    min_bytes: int
    max_bytes: int
    offset: int
    bytes: int


# SpareProbe(min_bytes, max_bytes, count): md_host_run --spare-probe, for tests: every op asks
# `count` times for spare scratch, and its grants are overwritten with junk around its invoke.
SpareProbe = tuple[int, int, int]


@dataclass(frozen=True)
class ArenaPlan:
    head: int
    tail: int
    arena_bytes: int
    buffers: list[PlannedBuffer]
    # Patch-based stage (first op, last op) the runtime streams row by row, None if none.
    stage: tuple[int, int] | None = None
    # Spare scratch requests in request order, with their grants.
    spare: list[SpareRecord] = field(default_factory=list)


def runner_sources() -> list[Path]:
    """Every .cc compiled into the host runner, in a stable order."""
    src = paths.runtime_dir() / "src" / "md"
    sources = sorted(src.glob("*.cc")) + sorted((src / "kernels").rglob("*.cc"))
    sources.append(src / "ports" / "native" / "port.cc")
    sources.append(paths.runtime_dir() / "tools" / "md_host_run.cc")
    return sources


@functools.cache
def _compiler() -> str:
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        raise ToolchainError("g++ was not found", hint="install it: apt-get install g++")
    return compiler


@functools.cache
def _compiler_id(compiler: str) -> str:
    proc = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines()[0] if proc.stdout else compiler


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:24]


def _compile_error(output: str, name: str, source: Path) -> BuildError:
    lines = [line for line in output.splitlines() if "error" in line] or output.splitlines()
    first = lines[0].strip() if lines else "no compiler output"
    return BuildError(
        f"{name} did not compile ({source.name}): {first}",
        hint="fix the C++ error above; the full compiler output is in the exception's notes",
    )


def build_runner(
    sanitize: bool = True, kernels: str = "optimized", defines: Sequence[str] = ()
) -> Path:
    """Path of the host runner binary for the current sources, building it when needed.

    `defines`: extra -D flags, e.g. the kernel type-variant defines a generated project gets
    (microdeploy/project/type_variants.py)."""
    if kernels not in _KERNEL_FLAGS:
        raise ValueError(f"kernels must be one of {KERNEL_FLAVOURS}, not {kernels!r}")
    return build_executable(
        "md_host_run",
        runner_sources(),
        sanitize=sanitize,
        defines=(*_KERNEL_FLAGS[kernels], *defines),
    )


def build_executable(
    name: str,
    sources: Sequence[Path],
    sanitize: bool = True,
    extra_headers: Sequence[Path] = (),
    defines: Sequence[str] = (),
) -> Path:
    """Compile and link `sources` (include root runtime_cpp/src) into a cached executable.

    Each object is cached by its source, every header under src/md plus `extra_headers`, the
    flags and the compiler version; the binary by the set of objects.
    """
    compiler = _compiler()
    flags = list(_COMMON_FLAGS) + list(_SANITIZE_FLAGS if sanitize else _RELEASE_FLAGS)
    flags += list(defines)
    include = paths.runtime_dir() / "src"
    headers = sorted((include / "md").rglob("*.h")) + list(extra_headers)
    header_key = _digest(*(p.as_posix().encode() + p.read_bytes() for p in headers))
    config_key = _digest(
        " ".join(flags).encode(), _compiler_id(compiler).encode(), header_key.encode()
    )
    missing = [s for s in sources if not s.is_file()]
    if missing:
        raise BuildError(
            f"{name} source missing: {missing[0]}",
            hint="is runtime_cpp/ complete in this checkout?",
        )
    keys = [_digest(config_key.encode(), s.as_posix().encode(), s.read_bytes()) for s in sources]
    root = paths.cache_dir() / "host_runner"
    flavour = "asan" if sanitize else "release"
    binary = root / "bin" / f"{name}-{flavour}-{_digest(*(k.encode() for k in keys))}"
    if binary.is_file():
        return binary
    with _locked(root / "build.lock"):
        if binary.is_file():
            return binary
        objects = [
            root / "obj" / f"{s.stem}-{flavour}-{k}.o" for s, k in zip(sources, keys, strict=True)
        ]
        todo = [(s, o) for s, o in zip(sources, objects, strict=True) if not o.is_file()]

        def compile_one(item: tuple[Path, Path]) -> tuple[Path, subprocess.CompletedProcess[str]]:
            source, obj = item
            obj.parent.mkdir(parents=True, exist_ok=True)
            tmp = obj.with_suffix(f".tmp{os.getpid()}")
            cmd = [compiler, *flags, f"-I{include}", "-c", str(source), "-o", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                os.replace(tmp, obj)
            return source, proc

        with ThreadPoolExecutor(max_workers=_BUILD_JOBS) as pool:
            results = list(pool.map(compile_one, todo))
        for source, proc in results:
            if proc.returncode != 0:
                error = _compile_error(proc.stdout + proc.stderr, name, source)
                error.add_note(proc.stdout + proc.stderr)
                raise error
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp_bin = binary.with_suffix(f".tmp{os.getpid()}")
        cmd = [compiler, *flags, *map(str, objects), "-o", str(tmp_bin)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            error = _compile_error(proc.stdout + proc.stderr, name, Path("link"))
            error.add_note(proc.stdout + proc.stderr)
            raise error
        os.replace(tmp_bin, binary)
        _prune(binary.parent, f"{name}-{flavour}-", _KEEP_BUILDS)
        for source, _ in todo:
            _prune(root / "obj", f"{source.stem}-{flavour}-", _KEEP_BUILDS)
    return binary


def _prune(directory: Path, prefix: str, keep: int) -> None:
    """Delete all but the `keep` newest files named prefix* (sources change all day long)."""
    entries = []
    for path in directory.glob(f"{prefix}*"):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _, path in sorted(entries, reverse=True)[keep:]:
        path.unlink(missing_ok=True)


def _sanitizer_env() -> dict[str, str]:
    env = dict(os.environ)
    # The runner's own malloc'ed buffers are not the runtime's concern; leak checking also
    # fails under ptrace-restricted containers.
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = f"{asan}:detect_leaks=0" if asan else "detect_leaks=0"
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def _run(binary: Path, args: Sequence[str]) -> dict:
    try:
        proc = subprocess.run(
            [str(binary), *args],
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT_S,
            env=_sanitizer_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HostRunnerCrash(
            f"the host runner did not finish within {_RUN_TIMEOUT_S} s",
            hint="a kernel may loop forever; try a smaller model",
        ) from None
    lines = proc.stdout.strip().splitlines()
    answer: dict | None = None
    if lines:
        try:
            answer = json.loads(lines[-1])
        except json.JSONDecodeError:
            answer = None
    if answer is None or (proc.returncode not in (0, 2)):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-12:]
        raise HostRunnerCrash(
            f"the host runner crashed (exit status {proc.returncode}): " + " | ".join(tail),
            hint="this is a runtime bug; rerun with the sanitized runner to see the report",
        )
    if "error" in answer:
        raise HostRunnerError(
            str(answer["error"]),
            str(answer.get("message", "")),
            hint=_hint(str(answer["error"]), answer),
            needed=answer.get("needed"),
        )
    return answer


def _hint(kind: str, answer: dict) -> str:
    if kind == "ArenaTooSmall" and answer.get("needed"):
        return f"give the model an arena of at least {answer['needed']} bytes"
    if kind == "UnsupportedOp":
        return "the runtime has no kernel for this op yet; see runtime_cpp/src/md/kernels/"
    if kind == "MalformedModel":
        return "the .tflite file is damaged or not a TFLite flatbuffer; re-export it"
    return ""


@contextmanager
def _model_file(model: bytes | Path, tmp: Path) -> Iterator[Path]:
    if isinstance(model, Path | str):
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}", hint="check the path")
        yield path
    else:
        path = tmp / "model.tflite"
        path.write_bytes(bytes(model))
        yield path


def _check_inputs(model: bytes | Path, inputs: Sequence[np.ndarray]) -> None:
    """Same dtype and element count as the model's inputs (the runner only sees bytes)."""
    if isinstance(model, Path | str):
        if not Path(model).is_file():
            raise ModelError(f"model file not found: {model}", hint="check the path")
        model = Path(model).read_bytes()
    try:
        wanted = read_model(model).inputs
    except ModelError:
        return  # the runtime's own validation names the problem more precisely
    for index, (array, tensor) in enumerate(zip(inputs, wanted, strict=False)):
        array = np.asarray(array)
        if not tensor.dtype:
            continue  # a type numpy cannot hold: the runtime refuses it with its own message
        if array.dtype != np.dtype(tensor.dtype) or array.size != tensor.num_elements:
            raise ModelError(
                f"input {index}: got {array.dtype} {list(array.shape)}, the model wants"
                f" {tensor.dtype} {list(tensor.shape)}",
                hint="convert the array with .astype() / .reshape()",
            )


def run_model(
    model: bytes | Path,
    inputs: Sequence[np.ndarray],
    arena_size: int | None = None,
    repeat: int = 1,
    profile: bool = False,
    sanitize: bool = True,
    kernels: str = "optimized",
    tiling: str = "auto",
    defines: Sequence[str] = (),
    spare_probe: SpareProbe | None = None,
) -> HostRunResult:
    """Run `model` once per `repeat` on `inputs` (raw bytes of each array) with the md runtime.

    Outputs are those of the last invoke. Raises HostRunnerError with the runtime's message.
    `tiling`: the patch-based execution policy, "auto", "off" or "on" (docs/patch_execution.md).
    `defines`: extra -D flags for the runner's build (build_runner).
    `spare_probe`: make every op ask for spare scratch and spoil it (SpareProbe; tests only).
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    _check_inputs(model, inputs)
    binary = build_runner(sanitize=sanitize, kernels=kernels, defines=defines)
    with tempfile.TemporaryDirectory(prefix="md_host_run_") as tmp_name:
        tmp = Path(tmp_name)
        with _model_file(model, tmp) as model_path:
            args = [str(model_path), "--repeat", str(repeat), *_tiling_args(tiling)]
            args += _probe_args(spare_probe)
            if arena_size is not None:
                args += ["--arena", str(int(arena_size))]
            if profile:
                args.append("--profile")
            for index, array in enumerate(inputs):
                path = tmp / f"input{index}.bin"
                path.write_bytes(np.ascontiguousarray(array).tobytes())
                args.append(str(path))
            answer = _run(binary, args)
    outputs = []
    for out in answer["outputs"]:
        dtype = _DTYPES.get(out["type"])
        if dtype is None:
            raise HostRunnerError("UnsupportedType", f"output type {out['type']} is not readable")
        values = [np.nan if v is None else v for v in out["data"]]
        outputs.append(np.array(values, dtype=dtype).reshape(tuple(out["shape"])))
    return HostRunResult(
        outputs=outputs,
        arena_bytes=int(answer["arena_bytes"]),
        arena_head=int(answer["arena_head"]),
        arena_tail=int(answer["arena_tail"]),
        invoke_us=[float(x) for x in answer["invoke_us"]],
        clock=str(answer.get("clock", "")),
        ticks_per_second=int(answer.get("ticks_per_second", 0)),
        profile=[
            ProfileEntry(int(p["op"]), str(p["name"]), int(p["ticks"]))
            for p in answer.get("profile", [])
        ],
    )


def _tiling_args(tiling: str) -> list[str]:
    if tiling not in TILING_MODES:
        raise ValueError(f"tiling must be one of {TILING_MODES}, not {tiling!r}")
    return ["--tiling", tiling]


def _probe_args(probe: SpareProbe | None) -> list[str]:
    if probe is None:
        return []
    low, high, count = (int(x) for x in probe)
    if not (0 <= low <= high and 1 <= count <= 16):
        raise ValueError(f"spare_probe needs 0 <= min <= max and 1 <= count <= 16, not {probe}")
    return ["--spare-probe", f"{low},{high},{count}"]


def plan_model(
    model: bytes | Path,
    sanitize: bool = True,
    tiling: str = "auto",
    arena_size: int | None = None,
    spare_probe: SpareProbe | None = None,
) -> ArenaPlan:
    """The arena plan the runtime makes for `model` (kernels' prepare runs, invoke does not).
    `arena_size`: plan for an arena of that many bytes (the "auto" tiling policy streams a stage
    when the layer-by-layer plan would not fit it); default a generous one. `spare_probe`: every
    op asks for spare scratch too (SpareProbe; tests only)."""
    binary = build_runner(sanitize=sanitize)
    args = ["--plan", *_tiling_args(tiling), *_probe_args(spare_probe)]
    if arena_size is not None:
        args += ["--arena", str(int(arena_size))]
    with tempfile.TemporaryDirectory(prefix="md_host_plan_") as tmp_name:
        with _model_file(model, Path(tmp_name)) as model_path:
            answer = _run(binary, [str(model_path), *args])
    return ArenaPlan(
        head=int(answer["head"]),
        tail=int(answer["tail"]),
        arena_bytes=int(answer["arena_bytes"]),
        buffers=[
            PlannedBuffer(
                **{k: int(b[k]) for k in ("id", "tensor", "op", "size", "first", "last", "offset")},
                alias=int(b.get("alias", -1)),
            )
            for b in answer["buffers"]
        ],
        stage=_stage(answer.get("stage")),
        spare=[
            SpareRecord(
                int(r["op"]), int(r["min"]), int(r["max"]), int(r["offset"]), int(r["bytes"])
            )
            for r in answer.get("spare", [])
        ],
    )


def _stage(value: object) -> tuple[int, int] | None:
    if isinstance(value, list) and len(value) == 2 and int(value[0]) >= 0:
        return int(value[0]), int(value[1])
    return None
