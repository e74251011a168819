"""Shared pytest fixtures. Keep each fixture small and independent (several people add here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from microdeploy import paths


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/models (reference models no one here wrote); skips when it is absent."""
    folder = paths.shared_models_dir()
    if not folder.is_dir():
        pytest.skip(f"reference models folder {folder} is absent")
    return folder


def pytest_addoption(parser: pytest.Parser) -> None:
    """Hardware-in-the-loop against a real board: `pytest --board nano33ble --port /dev/ttyACM0`
    runs tests/test_hil.py on it (skipped without both options)."""
    group = parser.getgroup("hil", "hardware-in-the-loop on a real board")
    group.addoption("--board", default=None, help="board name from board_defs/ (with --port)")
    group.addoption("--port", default=None, help="serial port of that board (with --board)")
