"""Starting firmware: the native program on a pseudo-terminal, the emulated board in QEMU with
its UART on a local TCP socket, a real board through PlatformIO's upload target.

Both local kinds run detached (their own session) so they outlive the `flash` command; their
pid and port go into the project's device state (state.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import tty
from pathlib import Path

from microdeploy.boards import Board
from microdeploy.errors import DeviceError, ToolchainError

_QEMU = "qemu-system-arm"
_QEMU_HINT = "sudo apt-get install -y qemu-system-arm"


def start_native(program: Path, log: Path) -> tuple[int, str]:
    """Runs the host program with a pty as its serial line; returns (pid, tty path to open).

    The program gets the pty's master side as stdin/stdout (like QEMU's `-serial pty`) and
    keeps an inherited handle on the slave side, so the line stays up while no host is
    attached; a host opens the slave path like any serial port.
    """
    master, slave = os.openpty()
    try:
        tty.setraw(slave)  # no echo, no newline translation: the bytes go through as sent
        path = os.ttyname(slave)
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                [str(program)],
                stdin=master,
                stdout=master,
                stderr=log_file,
                pass_fds=(slave,),
                start_new_session=True,
            )
    except OSError as exc:
        raise DeviceError(
            f"cannot start {program}: {exc}", "rebuild it with `microdeploy build`"
        ) from None
    finally:
        os.close(master)
        os.close(slave)
    time.sleep(0.05)
    if proc.poll() is not None:
        raise DeviceError(
            f"{program} exited at once with status {proc.returncode}",
            f"see {log} for its output",
        )
    return proc.pid, path


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool | None:
    """Whether something listens on 127.0.0.1:port (None when /proc cannot tell).

    Connecting to find out would start the emulated board (wait=on) with nobody to read its
    boot record, so this reads the kernel's socket table instead.
    """
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = f"0100007F:{port:04X}"
    return any(line.split()[1] == wanted and line.split()[3] == "0A" for line in lines)


def qemu_command(board: Board, firmware: Path, tcp_port: int, debug_log: Path) -> list[str]:
    if board.qemu is None:
        raise DeviceError(f"board {board.name} has no [qemu] settings in {board.source}")
    return [
        *board.qemu.command(),
        "-chardev",
        f"socket,id=s0,host=127.0.0.1,port={tcp_port},server=on,wait=on,nodelay=on",
        "-serial",
        "chardev:s0",
        "-serial",
        f"file:{debug_log}",  # UART1: the port's debug text, never mixed with the protocol
        "-kernel",
        str(firmware),
    ]


def start_qemu(board: Board, firmware: Path, log: Path, debug_log: Path) -> tuple[int, str]:
    """Starts the emulator; returns (pid, socket:// URL). The guest starts when a host
    connects (wait=on), so the first connection sees the boot record."""
    if shutil.which(_QEMU) is None:
        raise ToolchainError(f"{_QEMU} is not installed", _QEMU_HINT)
    last_error: DeviceError | None = None
    for _attempt in range(3):  # another program may take the free port before QEMU binds it
        tcp_port = free_tcp_port()
        command = qemu_command(board, firmware, tcp_port, debug_log)
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            listening = _listening(tcp_port)
            if listening or listening is None:
                if listening is None:
                    time.sleep(0.5)
                return proc.pid, f"socket://127.0.0.1:{tcp_port}"
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output = log.read_text(errors="replace").strip().splitlines()
        last_error = DeviceError(
            f"QEMU did not start: {output[-1] if output else 'no output'}",
            f"see {log}; the command was: {' '.join(command)}",
        )
        if "Address already in use" not in "\n".join(output):
            break
    assert last_error is not None
    raise last_error


def process_matches(pid: int, needle: str) -> bool:
    """Whether process `pid` still runs `needle` (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return needle.encode() in cmdline
