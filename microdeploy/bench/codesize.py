"""Runtime code size for one op set, ours vs TFLM's, measured the same way on both binaries.

TFLM's sources are not on the package registries this project reaches (a Cortex-M4 build from a
TFLM source tree given by hand is microdeploy.bench.tflm_m4), but the `tflite-micro` wheel's
x86-64 library keeps its symbol table. So the comparison here is a same-architecture proxy:
TFLM's x86-64 code against ours built for x86-64 (the host runner: g++ -O2, -fno-exceptions
-fno-rtti), each measured by the same rule:

- the code kept is every function reachable from a set of roots (what a linker with
  --gc-sections keeps for an application that uses them): direct calls and jumps, addresses
  taken in code (rip-relative), PLT stubs and GOT slots resolved to the function they stand
  for, and the relocated words of data objects that reachable code refers to (vtables,
  kernel registration tables);
- its size is the sum of those functions' symbol sizes (`nm -S`, one per address: aliases
  such as C1/C2 constructors count once). Library code outside the binary (libc, libstdc++,
  libm) counts on neither side; neither do data and read-only data.
- roots, per side: the interpreter's public entry points (construct, allocate, invoke,
  input/output access) and the op resolver's lookup (`CORE_ROOTS`), and the registration
  function of each op of the set (`op_roots`: TFLM's Register_<OP>() and its flatbuffer
  parser Parse<Op>, which MicroMutableOpResolver::Add<Op>() links; ours md::Register_<OP>()).
- split: "kernels" = reachable from the op roots but not from the core roots; "core" =
  reachable from the core roots (helpers both use count as core).

Excluded by construction: TFLM's Python binding (pybind11, InterpreterWrapper, numpy glue), its
all-ops resolver constructor (PythonOpsResolver) and every op outside the set; our host
runner's main() and AddAllOps(). What it cannot show: a Cortex-M build's size (Thumb-2 code is
about half of x86-64's, and either side may inline differently on another compiler: TFLM's wheel
was built by the GCC named in its .comment section, with optimization flags it does not record).
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from microdeploy import host_runtime
from microdeploy.errors import ModelError, ToolchainError

# The person-detection op set (tflm/person_detect, examples/person_detection).
PERSON_DETECTION_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX")

# The flatbuffer parser that TFLM's MicroMutableOpResolver::Add<Op>() registers with each op
# (tensorflow/lite/core/api/flatbuffer_conversions.h), for every op our runtime has.
TFLM_PARSERS = {
    "ADD": "ParseAdd",
    "AVERAGE_POOL_2D": "ParsePool",
    "CONCATENATION": "ParseConcatenation",
    "CONV_2D": "ParseConv2D",
    "DEPTHWISE_CONV_2D": "ParseDepthwiseConv2D",
    "DEQUANTIZE": "ParseDequantize",
    "FULLY_CONNECTED": "ParseFullyConnected",
    "LOGISTIC": "ParseLogistic",
    "MAX_POOL_2D": "ParsePool",
    "MEAN": "ParseReducer",
    "MUL": "ParseMul",
    "PAD": "ParsePad",
    "QUANTIZE": "ParseQuantize",
    "RESHAPE": "ParseReshape",
    "SOFTMAX": "ParseSoftmax",
    "STRIDED_SLICE": "ParseStridedSlice",
    "SVDF": "ParseSvdf",
    "TANH": "ParseTanh",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "ParseUnidirectionalSequenceLSTM",
}

# Demangled-name patterns of each side's core entry points (regular expressions, full match).
TFLM_CORE_ROOTS = (
    r"tflite::(micro::)?MicroInterpreter::MicroInterpreter\(tflite::Model const\*, "
    r"tflite::(micro::)?MicroOpResolver const&, unsigned char\*, unsigned long.*\)",
    r"tflite::(micro::)?MicroInterpreter::~MicroInterpreter\(\)",
    r"tflite::(micro::)?MicroInterpreter::AllocateTensors\(\)",
    r"tflite::(micro::)?MicroInterpreter::Invoke\(\)",
    r"tflite::(micro::)?MicroInterpreter::(input|output)\(unsigned long\)",
    r"tflite::(micro::)?MicroMutableOpResolver<\d+u?>::(FindOp|GetOpDataParser|AddBuiltin)\(.*",
)
OURS_CORE_ROOTS = (
    r"md::Interpreter::Interpreter\(.*\)",
    r"md::Interpreter::(Init|AllocateTensors|Invoke)\(\)",
    r"md::Interpreter::(Input|Output)\(int\) const",
    r"md::MicroOpResolver<\d+u?l?>::(Find|Add)\(.*",
)


# TFLM's wheel is built with its optional weight compression (USE_TFLM_COMPRESSION), which a
# default TFLM build for a microcontroller leaves out: its decompression code is not counted.
TFLM_EXCLUDED = (
    r".*DecompressionState::.*",
    r".*[Dd]ecompress.*",
    r".*Compress(ed|ion).*",
    r".*compression::.*",
)


def tflm_op_roots(ops: Sequence[str]) -> list[str]:
    roots = []
    for op in ops:
        if op not in TFLM_PARSERS:
            raise ModelError(
                f"no code-size rule for op {op}",
                hint=f"add TFLM's parser for it to TFLM_PARSERS in {Path(__file__).name}",
            )
        roots.append(rf"tflite::(micro::)?Register_{op}\(\)")
        roots.append(rf"tflite::(micro::)?{TFLM_PARSERS[op]}\(.*")
    return roots


def ours_op_roots(ops: Sequence[str]) -> list[str]:
    return [rf"md::Register_{op}\(\)" for op in ops]


@dataclass(frozen=True)
class Function:
    address: int
    size: int
    name: str  # demangled
    mangled: str


@dataclass
class Binary:
    """Functions and references of one x86-64 ELF file."""

    path: Path
    functions: dict[int, Function] = field(default_factory=dict)  # by address
    edges: dict[int, set[int]] = field(default_factory=dict)  # node address -> node addresses


@dataclass(frozen=True)
class CodeSize:
    binary: str
    core_bytes: int
    kernel_bytes: int
    core_functions: int
    kernel_functions: int
    largest: tuple[tuple[str, int], ...]  # the largest functions kept, (name, bytes)
    core_names: frozenset[str]
    kernel_names: frozenset[str]

    @property
    def total_bytes(self) -> int:
        return self.core_bytes + self.kernel_bytes


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(
            f"{name} is not installed (the code-size comparison reads binaries with binutils)",
            hint="sudo apt-get install -y binutils",
        )
    return path


def _run(args: Sequence[str]) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolchainError(f"{Path(args[0]).name} failed on {args[-1]}: {proc.stderr.strip()}")
    return proc.stdout


_NM_LINE = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) (\w) (.+)$")
_FUNC_HEAD = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s+([0-9a-f]+):")
_TARGET = re.compile(r"(?:call|jmp|j\w+)\s+([0-9a-f]+) <([^>]+)>")
_COMMENT = re.compile(r"#\s+([0-9a-f]+)(?: <([^>]+)>)?\s*$")
_RELOC = re.compile(
    r"^([0-9a-f]+)\s+[0-9a-f]+\s+(R_X86_64_\w+)\s+(?:([0-9a-f]+)\s+(\S+)\s*\+\s*)?"
    r"([0-9a-f]+)?"
)


def _symbols(path: Path) -> tuple[list[tuple[int, int, str, str, str]], dict[str, int]]:
    """(address, size, type, mangled, demangled) of defined symbols; mangled name -> address of
    every defined function and data object (what relocations and PLT stubs name)."""
    nm = _tool("nm")
    raw = _run([nm, "-S", "--defined-only", str(path)]).splitlines()
    pretty = _run([nm, "-S", "-C", "--defined-only", str(path)]).splitlines()
    symbols = []
    by_name: dict[str, int] = {}
    for line, line_c in zip(raw, pretty, strict=True):
        m = _NM_LINE.match(line)
        mc = _NM_LINE.match(line_c)
        if not m or not mc:
            continue
        address, size, kind = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        symbols.append((address, size, kind, m.group(4), mc.group(4)))
        if kind in "tTwWiudDvVrRbB":
            by_name.setdefault(m.group(4), address)
    return symbols, by_name


def read_binary(path: Path) -> Binary:
    """Functions, and the references between functions and data objects, of an x86-64 ELF."""
    symbols, by_name = _symbols(path)
    binary = Binary(path)
    data: list[tuple[int, int]] = []  # (start, end) of sized data objects
    for address, size, kind, mangled, name in symbols:
        if kind in "tTwW" and size > 0:
            binary.functions.setdefault(address, Function(address, size, name, mangled))
        elif kind in "dDvVrRbB" and size > 0:
            data.append((address, address + size))
    data.sort()
    starts = [d[0] for d in data]
    function_starts = sorted(binary.functions)
    got: dict[int, int] = {}  # GOT slot -> function it holds

    def data_object(address: int) -> int | None:
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and data[i][0] <= address < data[i][1]:
            return data[i][0]
        return None

    def containing_function(address: int) -> int | None:
        i = bisect.bisect_right(function_starts, address) - 1
        if i >= 0 and address < function_starts[i] + binary.functions[function_starts[i]].size:
            return function_starts[i]
        return None

    readelf = _tool("readelf")
    for line in _run([readelf, "-rW", str(path)]).splitlines():
        m = _RELOC.match(line.strip())
        if not m:
            continue
        offset, kind = int(m.group(1), 16), m.group(2)
        if kind == "R_X86_64_RELATIVE" and m.group(5):
            target = int(m.group(5), 16)
        elif kind in ("R_X86_64_64", "R_X86_64_GLOB_DAT") and m.group(4):
            name = m.group(4).split("@")[0]
            if name not in by_name:
                continue  # defined elsewhere (libc, libstdc++)
            target = by_name[name] + (int(m.group(5), 16) if m.group(5) else 0)
        else:
            continue
        if kind == "R_X86_64_GLOB_DAT":
            got[offset] = target
        owner = data_object(offset)
        node = containing_function(target)
        if node is None:
            node = data_object(target)  # e.g. an object's vtable pointer: vtable + 16
        if owner is not None and node is not None:
            binary.edges.setdefault(owner, set()).add(node)

    objdump = _tool("objdump")
    current: int | None = None
    end = 0
    for line in _run([objdump, "-d", "--no-show-raw-insn", str(path)]).splitlines():
        head = _FUNC_HEAD.match(line)
        if head:
            address = int(head.group(1), 16)
            current = address if address in binary.functions else None
            end = address + binary.functions[address].size if current is not None else 0
            continue
        if current is None:
            continue
        at = _INSN.match(line)
        if at is None or int(at.group(1), 16) >= end:
            continue  # padding or an unnamed stub after the function's symbol size
        targets: list[int] = []
        for m in _TARGET.finditer(line):
            name = m.group(2)
            if name.endswith("@plt"):
                mangled = name[: -len("@plt")].split("@")[0]
                if mangled in by_name:
                    targets.append(by_name[mangled])
            else:
                targets.append(int(m.group(1), 16))
        comment = _COMMENT.search(line)
        if comment:
            address = int(comment.group(1), 16)
            targets.append(got.get(address, address))
        for target in targets:
            node = containing_function(target)
            if node is None:
                node = data_object(target)
            if node is not None and node != current:
                binary.edges.setdefault(current, set()).add(node)
    return binary


def _roots(binary: Binary, patterns: Iterable[str]) -> tuple[set[int], list[str]]:
    """Addresses of the functions whose demangled name fully matches a pattern, and the
    patterns that matched nothing."""
    found: set[int] = set()
    missing = []
    for pattern in patterns:
        regex = re.compile(pattern)
        hits = {a for a, f in binary.functions.items() if regex.fullmatch(f.name)}
        if not hits:
            missing.append(pattern)
        found |= hits
    return found, missing


def _reach(binary: Binary, roots: set[int], excluded: set[int]) -> set[int]:
    seen = set(roots) - excluded
    todo = list(seen)
    while todo:
        node = todo.pop()
        for nxt in binary.edges.get(node, ()):
            if nxt not in seen and nxt not in excluded:
                seen.add(nxt)
                todo.append(nxt)
    return {a for a in seen if a in binary.functions}


def measure(
    binary: Binary,
    core_roots: Sequence[str],
    op_roots: Sequence[str],
    excluded: Sequence[str] = (),
) -> CodeSize:
    """Code kept for the core and the ops' kernels (see the module docstring); functions whose
    name matches an `excluded` pattern are neither counted nor followed."""
    core, missing_core = _roots(binary, core_roots)
    ops, missing_ops = _roots(binary, op_roots)
    missing = missing_core + missing_ops
    if missing:
        raise ToolchainError(
            f"{binary.path.name} has no function matching {missing[0]!r}",
            hint="the binary does not hold this op set or was built differently",
        )
    regexes = [re.compile(p) for p in excluded]
    skip = {a for a, f in binary.functions.items() if any(r.fullmatch(f.name) for r in regexes)}
    core_kept = _reach(binary, core, skip)
    kernel_kept = _reach(binary, ops, skip) - core_kept
    size = {a: binary.functions[a].size for a in core_kept | kernel_kept}
    largest = sorted(size.items(), key=lambda kv: -kv[1])[:12]
    return CodeSize(
        binary=str(binary.path),
        core_bytes=sum(size[a] for a in core_kept),
        kernel_bytes=sum(size[a] for a in kernel_kept),
        core_functions=len(core_kept),
        kernel_functions=len(kernel_kept),
        largest=tuple((binary.functions[a].name, s) for a, s in largest),
        core_names=frozenset(binary.functions[a].name for a in core_kept),
        kernel_names=frozenset(binary.functions[a].name for a in kernel_kept),
    )


def tflm_library() -> Path:
    """TFLM's x86-64 interpreter library inside the installed tflite-micro wheel."""
    spec = importlib.util.find_spec("tflite_micro")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        found = sorted(Path(root).glob("python/tflite_micro/_runtime*.so"))
        if found:
            return found[0]
    raise ToolchainError(
        "the code-size comparison reads TFLM's library from the tflite-micro wheel, which is "
        "not installed",
        hint="pip install tflite-micro (or: pip install -e '.[bench]')",
    )


@functools.lru_cache(maxsize=4)
def _read_cached(path: Path, mtime_ns: int) -> Binary:
    del mtime_ns  # part of the cache key only: a rebuilt file is read again
    return read_binary(path)


def _read(path: Path) -> Binary:
    return _read_cached(path, path.stat().st_mtime_ns)


def _compiler(path: Path) -> str:
    """The compiler named in the ELF's .comment section ("GCC: (GNU) 14.2.1 ...")."""
    proc = subprocess.run(
        [_tool("readelf"), "-p", ".comment", str(path)], capture_output=True, text=True
    )
    names = re.findall(r"\]\s+(.+)$", proc.stdout, re.M)
    return names[0].strip() if names else "unknown"


def _figures(size: CodeSize) -> dict:
    return {
        "bytes": size.total_bytes,
        "core_bytes": size.core_bytes,
        "kernel_bytes": size.kernel_bytes,
        "functions": size.core_functions + size.kernel_functions,
    }


def compare(ops: Sequence[str], defines: Sequence[str] = ()) -> dict:
    """Runtime code for `ops` on x86-64, ours vs TFLM's (the module docstring has the rules).

    ours: the host build's kernels (on x86 the SSE2 int8 paths, with the reference kernels
    they fall back to); ours_portable_kernels: -DMD_KERNELS_PORTABLE (the plain C++ optimized
    paths, the nearest stand-in for a Cortex-M build's optimized paths); ours_reference_kernels:
    -DMD_KERNELS_REFERENCE, like TFLM's reference kernels; tflm: without its optional
    decompression code; ratio = ours / tflm.

    `defines`: the kernel type-variant defines a generated project gets for the model
    (project/type_variants.py, e.g. -DMD_KERNELS_NO_FLOAT32 -DMD_KERNELS_NO_INT16 for an
    all-int8 model); when there are any, ours_generated_defines is the host build's kernels
    built with them, measured from the same roots, and generated_defines_ratio its ratio to
    tflm. TFLM's side keeps its roots: its int8-only registrations (Register_CONV_2D_INT8()
    ...) exist only in optimized kernel builds (CMSIS-NN, Xtensa); its reference kernels, which
    the wheel has, define them as Register_CONV_2D() itself (kernels/conv.h), and the wheel
    holds no such symbol.
    """
    ops = sorted(set(ops))
    tflm_path = tflm_library()
    tflm_binary = _read(tflm_path)
    op_roots = tflm_op_roots(ops)
    tflm = measure(tflm_binary, TFLM_CORE_ROOTS, op_roots, TFLM_EXCLUDED)
    tflm_full = measure(tflm_binary, TFLM_CORE_ROOTS, op_roots)
    ours = {}
    for kernels in ("optimized", "portable", "reference"):
        runner = host_runtime.build_runner(sanitize=False, kernels=kernels)
        ours[kernels] = measure(_read(runner), OURS_CORE_ROOTS, ours_op_roots(ops))
    generated: dict = {}
    if defines:
        built = host_runtime.build_runner(sanitize=False, defines=defines)
        size = measure(_read(built), OURS_CORE_ROOTS, ours_op_roots(ops))
        generated = {
            "ours_generated_defines": {**_figures(size), "defines": list(defines)},
            "generated_defines_ratio": size.total_bytes / tflm.total_bytes,
        }
    return {
        "what": "x86-64 proxy: functions reachable from the interpreter's entry points and the "
        "ops' registrations, summed symbol sizes (not a Cortex-M figure)",
        "ops": ops,
        "ours": _figures(ours["optimized"]),
        "ours_portable_kernels": _figures(ours["portable"]),
        "ours_reference_kernels": _figures(ours["reference"]),
        "tflm": _figures(tflm),
        "tflm_with_compression_bytes": tflm_full.total_bytes,
        "ratio": ours["optimized"].total_bytes / tflm.total_bytes,
        "portable_kernels_ratio": ours["portable"].total_bytes / tflm.total_bytes,
        "reference_kernels_ratio": ours["reference"].total_bytes / tflm.total_bytes,
        "ours_compiler": _compiler(runner),
        "tflm_compiler": _compiler(tflm_path),
        **generated,
    }
