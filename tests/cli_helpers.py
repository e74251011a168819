"""Runs the `microdeploy` CLI as a user would: a separate process, captured output."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> CliResult:
    merged = dict(os.environ)
    merged.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "microdeploy.cli.main", *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
