"""Runs a tool whose output a person may want to follow live (PlatformIO, west).

One place for what `build`, `flash` (upload) and the Zephyr builds all do: stdout and stderr
merged in the order the tool printed them, no stdin (a tool that asks a question fails instead
of hanging), every line handed on as it arrives and kept for the error message.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence


def run_streamed(
    command: Sequence[str],
    on_line: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, list[str]]:
    """(exit status, every output line without its newline). Raises OSError when the command
    cannot be started: each caller says what that means for its own command."""
    lines: list[str] = []
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=None if env is None else dict(env),
    )
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        if on_line is not None:
            on_line(line)
    return proc.wait(), lines
