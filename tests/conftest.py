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
