"""Seeded random-mutation fuzzing of the Python model reader and of `microdeploy inspect`.

Every mutated file must come out as a Model or as a ModelError with a one-line message, and
`inspect` on it must either succeed or fail with exit status 1 and `error:`/`hint:` lines,
never a traceback. tests/test_model_reader.py already truncates and flips bytes in the
reference models; here the mutations are structural (32-bit fields set to boundary values,
inserted and deleted spans, splices of two models), the seeds include our own models so the
test never skips, and the CLI is fuzzed too. A failure prints the seed and the mutation, and
keeps the input in the test's tmp folder.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from typer.testing import CliRunner

from microdeploy import paths
from microdeploy.cli.main import app
from microdeploy.errors import MicrodeployError, ModelError
from microdeploy.model.analysis import analyze
from microdeploy.model.reader import Model, read_model
from microdeploy.model.writer import ModelBuilder

_BOUNDARY_U32 = (0, 1, 3, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def _own_models() -> dict[str, bytes]:
    """Our models: examples and a small graph using options, per-channel and variables."""
    models = {
        f"example-{p.parent.name}": p.read_bytes()
        for p in sorted((paths.repo_root() / "example_projects").glob("*/model.tflite"))
    }
    rng = np.random.default_rng(0)
    b = ModelBuilder(description="fuzz seed")
    x = b.add_tensor([1, 6, 6, 2], "int8", scale=0.5, zero_point=-1, name="x")
    w = b.add_tensor(
        [3, 3, 3, 2],
        "int8",
        data=rng.integers(-127, 128, (3, 3, 3, 2)).astype(np.int8),
        scale=[0.1, 0.2, 0.3],
        zero_point=[0, 0, 0],
    )
    bias = b.add_tensor([3], "int32", data=np.arange(3, dtype=np.int32), scale=[0.05, 0.1, 0.15])
    conv = b.add_tensor([1, 3, 3, 3], "int8", scale=0.25)
    b.add_operator(
        "CONV_2D", [x, w, bias], [conv], {"padding": "SAME", "stride_w": 2, "stride_h": 2}
    )
    flat = b.add_tensor([1, 27], "int8", scale=0.25)
    b.add_operator("RESHAPE", [conv], [flat], {"new_shape": [1, 27]})
    state = b.add_tensor([1, 27], "int8", scale=0.25, is_variable=True)
    total = b.add_tensor([1, 27], "int8", scale=0.5)
    b.add_operator("ADD", [flat, state], [total], {"fused_activation_function": "RELU"})
    out = b.add_tensor([1, 27], "int8", scale=1 / 256, zero_point=-128)
    b.add_operator("SOFTMAX", [total], [out], {"beta": 1.0})
    b.set_io([x], [out])
    models["own-graph"] = b.build()
    return models


def _seed_models() -> dict[str, bytes]:
    models = _own_models()
    shared = paths.shared_models_dir()
    if shared.is_dir():  # the small reference models (mutating the large ones is slow)
        for p in sorted(shared.glob("*/*.tflite")):
            if p.stat().st_size <= 60_000:
                models[f"shared-{p.name}"] = p.read_bytes()
    return models


Mutation = Callable[[random.Random, bytearray, bytes], str]


def _flip(rnd: random.Random, data: bytearray, _: bytes) -> str:
    pos = rnd.randrange(len(data))
    data[pos] ^= 1 << rnd.randrange(8)
    return f"flip bit at {pos}"


def _boundary_u32(rnd: random.Random, data: bytearray, _: bytes) -> str:
    pos = rnd.randrange(0, max(1, len(data) - 3)) & ~3  # offsets, lengths, indices are aligned
    value = rnd.choice(_BOUNDARY_U32 + (len(data), len(data) - 4, pos))
    data[pos : pos + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    return f"u32 at {pos} = {value:#x}"


def _insert(rnd: random.Random, data: bytearray, _: bytes) -> str:
    pos = rnd.randrange(len(data) + 1)
    span = bytes(rnd.randrange(256) for _ in range(rnd.choice([1, 4, 16, 100])))
    data[pos:pos] = span
    return f"insert {len(span)} bytes at {pos}"


def _delete(rnd: random.Random, data: bytearray, _: bytes) -> str:
    pos = rnd.randrange(len(data))
    n = rnd.choice([1, 4, 16, 256])
    del data[pos : pos + n]
    return f"delete {n} bytes at {pos}"


def _duplicate(rnd: random.Random, data: bytearray, _: bytes) -> str:
    a = rnd.randrange(len(data))
    n = rnd.choice([4, 8, 64])
    b = rnd.randrange(len(data))
    data[b:b] = data[a : a + n]
    return f"copy {n} bytes from {a} to {b}"


def _splice(rnd: random.Random, data: bytearray, other: bytes) -> str:
    cut = rnd.randrange(len(data))
    start = rnd.randrange(len(other))
    data[cut:] = other[start : start + rnd.randrange(1, 4096)]
    return f"splice at {cut} from another model's {start}"


_MUTATIONS: tuple[Mutation, ...] = (_flip, _boundary_u32, _boundary_u32, _insert, _delete,
                                    _duplicate, _splice)  # fmt: skip


def _mutants(count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` mutated models, each described by what was done to which seed model."""
    rnd = random.Random(seed)
    models = _seed_models()
    names = sorted(models)
    mutants = []
    for i in range(count):
        name = names[i % len(names)]
        data = bytearray(models[name])
        steps = []
        for _ in range(rnd.choice([1, 1, 2, 3, 6])):
            if not data:
                break
            mutate = rnd.choice(_MUTATIONS)
            steps.append(mutate(rnd, data, models[rnd.choice(names)]))
        mutants.append((f"seed {seed} #{i}: {name}: {'; '.join(steps)}", bytes(data)))
    return mutants


def _keep(tmp_path: Path, index: int, data: bytes) -> Path:
    path = tmp_path / f"mutant-{index}.tflite"
    path.write_bytes(data)
    return path


def test_reader_gives_a_model_or_a_one_line_model_error(tmp_path: Path) -> None:
    outcomes = {"model": 0, "error": 0}
    for index, (what, data) in enumerate(_mutants(3000, seed=20251125)):
        try:
            model = read_model(data)
        except ModelError as exc:
            assert exc.message and "\n" not in exc.message, f"{what}: {exc.message!r}"
            outcomes["error"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - exactly what this test is looking for
            kept = _keep(tmp_path, index, data)
            pytest.fail(f"{what}: {type(exc).__name__}: {exc} (input kept in {kept})")
        assert isinstance(model, Model)
        try:
            analyze(model, name="mutant")  # what inspect computes from an accepted model
        except MicrodeployError as exc:
            assert "\n" not in exc.message, f"{what}: {exc.message!r}"
        except Exception as exc:  # noqa: BLE001
            kept = _keep(tmp_path, index, data)
            pytest.fail(f"{what}: analyze: {type(exc).__name__}: {exc} (input kept in {kept})")
        outcomes["model"] += 1
    print(f"reader outcomes: {outcomes}")
    # Both outcomes must occur, or the mutations are not reaching the structure.
    assert outcomes["error"] > 100 and outcomes["model"] > 100, outcomes


def test_inspect_on_mutated_models_never_shows_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    codes = {0: 0, 1: 0}
    for index, (what, data) in enumerate(_mutants(400, seed=7)):
        path = tmp_path / "model.tflite"
        path.write_bytes(data)
        extra = (["--json"], ["--board", "mps2-an386"], [])[index % 3]
        result = runner.invoke(app, ["inspect", str(path), "--no-runtime", *extra])
        if result.exit_code == 0:
            codes[0] += 1
            continue
        exc = result.exception
        # main() prints a MicrodeployError as `error:` + `hint:` and exits 1; anything else
        # escaping the command would be a traceback.
        if not isinstance(exc, MicrodeployError) or "\n" in exc.message:
            kept = _keep(tmp_path, index, data)
            pytest.fail(f"{what}: inspect raised {exc!r} (input kept in {kept})\n{result.output}")
        codes[1] += 1
    print(f"inspect exit codes: {codes}")
    assert codes[0] > 0 and codes[1] > 0, codes


def test_inspect_process_prints_error_and_hint_for_mutants(tmp_path: Path) -> None:
    """The same through the installed entry point, for a few mutants the reader refuses."""
    refused = []
    for what, data in _mutants(200, seed=11):
        try:
            read_model(data)
        except ModelError:
            refused.append((what, data))
        if len(refused) == 4:
            break
    assert refused
    for what, data in refused:
        path = tmp_path / "bad.tflite"
        path.write_bytes(data)
        result = run_cli("inspect", str(path))
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.code == 1, f"{what}: exit {result.code}\n{result.stderr}"
        assert "Traceback" not in result.stderr, f"{what}:\n{result.stderr}"
        assert len(lines) == 2 and lines[0].startswith("error:") and lines[1].startswith("hint:")
