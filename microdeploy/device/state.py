"""The running device of a project, recorded in PROJECT/.microdeploy/device.json by `flash` so
that `monitor` and `run` find it without a --port.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = ".microdeploy"
STATE_FILE = "device.json"


@dataclass(frozen=True)
class DeviceState:
    board: str
    kind: str  # "native" (program on a pty), "qemu" (emulator on a TCP socket), "board"
    port: str  # what pyserial opens: a tty path or socket://127.0.0.1:P
    pid: int | None  # the process we started (None for a real board)
    firmware: str
    started: float
    log: str = ""  # where the process's own output goes

    @property
    def alive(self) -> bool:
        return self.pid is None or pid_alive(self.pid)


def state_path(project: Path) -> Path:
    return project / STATE_DIR / STATE_FILE


def save_state(project: Path, state: DeviceState) -> Path:
    path = state_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    return path


def load_state(project: Path) -> DeviceState | None:
    path = state_path(project)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DeviceState(**data)
    except (OSError, ValueError, TypeError):
        return None  # no device recorded, or a file from another version: flash again


def clear_state(project: Path) -> None:
    try:
        state_path(project).unlink()
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_process(pid: int, timeout: float = 3.0) -> None:
    """Ends a process we started (its own session): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.02)
