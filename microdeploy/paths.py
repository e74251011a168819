"""Where microdeploy finds its own files (runtime sources, board definitions, caches)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout that holds runtime_cpp/ and board_defs/ (installed editable)."""
    override = os.environ.get("MICRODEPLOY_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def runtime_dir() -> Path:
    return repo_root() / "runtime_cpp"


def board_defs_dir() -> Path:
    return repo_root() / "board_defs"


def examples_dir() -> Path:
    return repo_root() / "example_projects"


def shared_models_dir() -> Path:
    """../shared/models beside the checkout; may be absent (tests skip then)."""
    override = os.environ.get("MICRODEPLOY_SHARED_MODELS")
    if override:
        return Path(override)
    return repo_root().parent / "shared" / "models"


def cache_dir() -> Path:
    """Build caches (host runner binaries, PlatformIO core). Never inside a user project."""
    override = os.environ.get("MICRODEPLOY_CACHE")
    base = Path(override) if override else Path.home() / ".cache" / "microdeploy"
    base.mkdir(parents=True, exist_ok=True)
    return base
