"""Shared steps of the kernel tests that run a model on the emulated Cortex-M4 (mps2-an386 in
QEMU): write the model and its inputs, `microdeploy init/build/flash` a project for it, then
`microdeploy run --json`, which compares every output bit for bit with TFLM's Python
interpreter. The tests keep their own models and their own assertions on the result.

Typical use in a test module:

    @pytest.fixture(scope="module")
    def flashed(tmp_path_factory):
        model, arrays = _my_model(np.random.default_rng(7))
        device = flash_model(tmp_path_factory.mktemp("mine"), "mine", model, arrays)
        yield device
        device.stop()

    def test_mine_matches_tflm_on_mps2(flashed):
        line = flashed.run_against_tflm()
        assert line["match"] is True, line

Skips (never passes silently) when QEMU or TFLM's interpreter is missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import run_cli  # tests/cli_helpers.py (tests/ is on sys.path via conftest)

from microdeploy import reference


@dataclass
class FlashedModel:
    """A project built and flashed onto the emulated board, with its input files."""

    project: Path
    files: list[Path]
    env: dict[str, str] = field(default_factory=dict)

    def run_against_tflm(self) -> dict[str, Any]:
        """One inference on the inputs; the `run --json` line (asserted to be the only one)."""
        args = ["run", str(self.project), "--json"]
        for file in self.files:
            args += ["--input", str(file)]
        result = run_cli(*args, env=self.env)
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.code == 0 and len(lines) == 1, result.stdout + result.stderr
        return lines[0]

    def stop(self) -> None:
        run_cli("flash", str(self.project), "--stop", env=self.env)


def flash_model(
    root: Path,
    name: str,
    model: bytes,
    arrays: Sequence[np.ndarray],
    board: str = "mps2-an386",
    env: dict[str, str] | None = None,
) -> FlashedModel:
    """Writes root/<name>.tflite and root/input<i>.npy, then inits, builds and flashes
    root/project for `board` (env: extra environment, e.g. MICRODEPLOY_BOARD_PATH)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    if not reference.available():
        pytest.skip("tflite-micro (TFLM's Python interpreter) is not installed")
    env = env or {}
    model_path = root / f"{name}.tflite"
    model_path.write_bytes(model)
    files = []
    for i, array in enumerate(arrays):
        files.append(root / f"input{i}.npy")
        np.save(files[-1], array)
    project = root / "project"
    for args in (
        ("init", str(project), "--board", board, "--model", str(model_path)),
        ("build", str(project)),
        ("flash", str(project)),
    ):
        result = run_cli(*args, env=env)
        assert result.code == 0, f"{args[0]}: {result.stdout}{result.stderr}"
    return FlashedModel(project, files, env)
