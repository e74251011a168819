"""Fuzzing the C++ runtime with hostile models.

- `test_fuzz_runtime_with_libfuzzer` (slow) builds runtime_cpp/fuzz/fuzz_model.cc with clang's
  libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, seeds it with the reference models
  (../shared/models, when present), our example models, small models holding every kernel and
  the regression inputs in tests/fuzz/, and fuzzes for a bounded time
  (MICRODEPLOY_FUZZ_SECONDS, 60 by default) with a fixed seed and run count by default
  (MICRODEPLOY_FUZZ_SEED, MICRODEPLOY_FUZZ_RUNS; 0 = libFuzzer's random seed / no limit). Any
  crash, sanitizer report or hang fails the test with the sanitizer's report and the command
  that reproduces it.
- `test_regression_input_is_a_clean_error` replays every file in tests/fuzz/ (inputs the fuzzer
  once crashed the runtime with, kept after the fix) through the sanitized host runner: each
  must end in a result or a JSON error, never in a sanitizer report.

The corpus grows in a temporary folder: seeds from ../shared are never copied into the repo.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, paths
from microdeploy.errors import ModelError
from microdeploy.model.reader import read_model

REGRESSION_DIR = Path(__file__).parent / "fuzz"
FUZZ_ARENA_BYTES = 1 << 20  # kArenaBytes in fuzz_model.cc
_SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: libFuzzer", "SUMMARY:")


def _regression_files() -> list[Path]:
    return sorted(REGRESSION_DIR.glob("*.tflite"))


def pattern_bytes(n: int) -> bytes:
    """The bytes fuzz_model.cc writes into every input tensor (PatternByte)."""
    return bytes((k * 37 + 11) & 0xFF for k in range(n))


# ---- Replaying the regression inputs through the sanitized host runner ----


def _input_files(model: bytes, folder: Path) -> list[str]:
    """Pattern-filled input files when our reader understands the model, else none (the runner
    then stops at its input-count check, after Init and AllocateTensors)."""
    try:
        parsed = read_model(model)
    except ModelError:
        return []
    files = []
    for i, tensor in enumerate(parsed.inputs):
        size = int(np.prod(tensor.shape, dtype=np.int64)) * np.dtype(tensor.dtype).itemsize
        if size > FUZZ_ARENA_BYTES:
            return []
        path = folder / f"input{i}.bin"
        path.write_bytes(pattern_bytes(size))
        files.append(str(path))
    return files


@pytest.mark.parametrize("path", _regression_files(), ids=lambda p: p.name)
def test_regression_input_is_a_clean_error(path: Path, tmp_path: Path) -> None:
    runner = host_runtime.build_runner(sanitize=True)
    data = path.read_bytes()
    args = [str(runner), str(path), "--arena", str(FUZZ_ARENA_BYTES), *_input_files(data, tmp_path)]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)
    report = [
        line for line in proc.stderr.splitlines() if any(m in line for m in _SANITIZER_MARKERS)
    ]
    assert not report, f"{path.name}: sanitizer report:\n{proc.stderr[-4000:]}"
    assert proc.returncode in (0, 2), f"{path.name}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.returncode == 2:
        assert answer["error"] and answer["message"], answer


def test_regression_inputs_are_small_and_not_reference_models() -> None:
    """tests/fuzz/ holds mutated reproducers only: small, and none a copy of ../shared's models."""
    shared = paths.shared_models_dir()
    originals = (
        {hashlib.sha256(p.read_bytes()).hexdigest() for p in shared.glob("*/*.tflite")}
        if shared.is_dir()
        else set()
    )
    for path in _regression_files():
        data = path.read_bytes()
        assert len(data) <= 64 * 1024, f"{path.name} is {len(data)} bytes; minimise it"
        assert hashlib.sha256(data).hexdigest() not in originals, (
            f"{path.name} is a reference model"
        )


# ---- libFuzzer ----


def _fuzz_sources() -> list[Path]:
    src = paths.runtime_dir() / "src" / "md"
    return [
        paths.runtime_dir() / "fuzz" / "fuzz_model.cc",
        *sorted(src.glob("*.cc")),
        *sorted((src / "kernels").glob("*.cc")),
        src / "ports" / "native" / "port.cc",
    ]


_FUZZ_FLAGS = [
    "-std=c++17",
    "-O1",
    "-g",
    "-fsanitize=fuzzer,address,undefined",
    "-fno-sanitize-recover=all",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fno-exceptions",
    "-fno-rtti",
]


def _clang() -> str:
    clang = shutil.which(os.environ.get("MICRODEPLOY_FUZZ_CXX", "clang++"))
    if clang is None:
        pytest.skip("clang++ is not installed (apt-get install clang libclang-rt-dev)")
    return clang


def build_fuzzer() -> Path:
    """The fuzz binary for the current sources, cached by their hash (object by object)."""
    clang = _clang()
    include = paths.runtime_dir() / "src"
    headers = sorted((include / "md").rglob("*.h"))
    header_key = hashlib.sha256(b"".join(h.read_bytes() for h in headers)).hexdigest()
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    config = hashlib.sha256(f"{_FUZZ_FLAGS}{version}{header_key}".encode()).hexdigest()
    root = paths.cache_dir() / "fuzz"
    (root / "obj").mkdir(parents=True, exist_ok=True)
    objects: list[Path] = []
    pending: list[tuple[subprocess.Popen[str], Path, Path]] = []

    def finish(job: tuple[subprocess.Popen[str], Path, Path]) -> None:
        proc, tmp, obj = job
        out, _ = proc.communicate()
        assert proc.returncode == 0, f"fuzz harness did not compile:\n{out}"
        os.replace(tmp, obj)

    for source in _fuzz_sources():
        key = hashlib.sha256(config.encode() + source.read_bytes()).hexdigest()[:20]
        obj = root / "obj" / f"{source.stem}-{key}.o"
        objects.append(obj)
        if obj.is_file():
            continue
        tmp = obj.with_suffix(f".tmp{os.getpid()}")
        cmd = [clang, *_FUZZ_FLAGS, f"-I{include}", "-c", str(source), "-o", str(tmp)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        pending.append((proc, tmp, obj))
        if len(pending) >= 2:  # the machines we run on have two cores
            finish(pending.pop(0))
    for job in pending:
        finish(job)
    link_key = hashlib.sha256("".join(o.name for o in objects).encode()).hexdigest()[:20]
    binary = root / f"fuzz_model-{link_key}"
    if not binary.is_file():
        tmp = binary.with_suffix(f".tmp{os.getpid()}")
        link = subprocess.run(
            [clang, "-fsanitize=fuzzer,address,undefined", *map(str, objects), "-o", str(tmp)],
            capture_output=True,
            text=True,
        )
        if link.returncode != 0 and "libclang_rt" in link.stderr:
            pytest.skip(
                "clang's sanitizer/libFuzzer runtime is missing (apt-get install libclang-rt-dev)"
            )
        assert link.returncode == 0, f"fuzz harness did not link:\n{link.stderr}"
        os.replace(tmp, binary)
        _keep_newest(root, "fuzz_model-", 3)
        for source in _fuzz_sources():
            _keep_newest(root / "obj", f"{source.stem}-", 3)
    return binary


def _keep_newest(folder: Path, prefix: str, keep: int) -> None:
    """The cache follows every source change; old builds go."""
    files = sorted(folder.glob(f"{prefix}*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def _load_test_module(path: Path):
    """A kernels test module by path (their multi-op models hold every kernel variant)."""
    kernels = str(path.parent)
    if kernels not in sys.path:
        sys.path.insert(0, kernels)
    spec = importlib.util.spec_from_file_location(f"_fuzz_seed_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_seeds(folder: Path) -> list[str]:
    """Seed files: reference models, examples, every-kernel models, regression inputs."""
    folder.mkdir(parents=True, exist_ok=True)
    names: list[str] = []

    def add(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        names.append(name)

    shared = paths.shared_models_dir()
    if shared.is_dir():
        for model in sorted(shared.glob("*/*.tflite")):
            add(f"shared-{model.name}", model.read_bytes())
    for model in sorted((paths.repo_root() / "example_projects").glob("*/model.tflite")):
        add(f"example-{model.parent.name}.tflite", model.read_bytes())
    kernels = Path(__file__).parent / "kernels"
    for test in ("test_set_a_on_mps2.py", "test_set_b_on_mps2.py"):
        module = _load_test_module(kernels / test)
        model = module._multi_op_model(np.random.default_rng(1))[0]
        add(f"kernels-{test}.tflite", model)
    for regression in _regression_files():
        add(f"regression-{regression.name}", regression.read_bytes())
    return names


@pytest.mark.slow
def test_fuzz_runtime_with_libfuzzer(tmp_path: Path) -> None:
    binary = build_fuzzer()
    seconds = int(os.environ.get("MICRODEPLOY_FUZZ_SECONDS", "60"))
    # A fixed seed and a fixed number of runs by default, so the suite's verdict is the same on
    # every machine (a slower one stops at the time limit, a prefix of the same mutations).
    # Exploring for new crashes: MICRODEPLOY_FUZZ_SEED=0 (libFuzzer picks a seed) and
    # MICRODEPLOY_FUZZ_RUNS=0 (no run limit), with a longer MICRODEPLOY_FUZZ_SECONDS.
    seed = int(os.environ.get("MICRODEPLOY_FUZZ_SEED", "1"))
    runs = int(os.environ.get("MICRODEPLOY_FUZZ_RUNS", "120000"))
    seeds = tmp_path / "seeds"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    write_seeds(seeds)
    cmd = [
        str(binary),
        f"-max_total_time={seconds}",
        "-timeout=30",  # one model, one invoke, with a device-sized arena: seconds at most
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
        *([f"-seed={seed}"] if seed else []),
        *([f"-runs={runs}"] if runs else []),
        str(corpus),
        str(seeds),
    ]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 600, env=env, check=False
    )
    stats = [line for line in proc.stderr.splitlines() if line.startswith("stat::")]
    print("\n".join(stats))
    crashes = sorted(artifacts.iterdir())
    if proc.returncode != 0 or crashes:
        kept = []
        for crash in crashes:
            keep = Path(os.environ.get("TMPDIR", "/tmp")) / f"microdeploy-{crash.name}"
            shutil.copyfile(crash, keep)
            kept.append(keep)
        seed = [line for line in proc.stderr.splitlines() if line.startswith("INFO: Seed:")]
        report = "\n".join(seed[:1] + proc.stderr.splitlines()[-60:])
        repro = "\n".join(f"  {binary} {k}" for k in kept) or "  (no artifact written)"
        pytest.fail(
            f"the fuzzer found a crash (exit {proc.returncode}).\n{report}\n"
            f"reproduce with:\n{repro}\n"
            "fix the runtime, minimise the input (-minimize_crash=1) and add it to tests/fuzz/"
        )
