"""`microdeploy doctor`: is everything microdeploy needs here? Each check says how to fix it."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from dataclasses import dataclass

from microdeploy.pio import core as pio_core

_APT = "sudo apt-get install -y --no-install-recommends"
_PIP = f"{sys.executable} -m pip install"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # version found, or what is wrong
    fix: str  # exact command that fixes it ("" when ok)
    required: bool = True  # False: only some boards/features need it


def _python_package(dist: str, wanted: str | None = None, required: bool = True) -> Check:
    spec = f"{dist}=={wanted}" if wanted else dist
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return Check(f"python: {dist}", False, "not installed", f"{_PIP} '{spec}'", required)
    if wanted and version != wanted:
        return Check(
            f"python: {dist}",
            False,
            f"{version} installed, {wanted} required",
            f"{_PIP} '{spec}'",
            required,
        )
    return Check(f"python: {dist}", True, version, "", required)


def _tool(name: str, command: list[str], fix: str, required: bool = True) -> Check:
    path = shutil.which(command[0])
    if path is None:
        return Check(name, False, f"{command[0]} not found on PATH", fix, required)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=20)
        first = (proc.stdout or proc.stderr).strip().splitlines()
        version = first[0] if first else path
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, False, f"{command[0]} does not run ({exc})", fix, required)
    return Check(name, True, version, "", required)


def _platformio_core() -> Check:
    core = pio_core.core_dir()
    fix = f"{sys.executable} -c 'from microdeploy.pio.core import ensure_core; ensure_core()'"
    problems = pio_core.core_status()
    if problems:
        # Not fatal: every build creates it; doctor only reports it.
        detail = f"not set up yet in {core} (the first build does it)"
        return Check("platformio core (offline)", False, detail, fix, required=False)
    detail = f"{core} (tool-scons {pio_core.TOOL_SCONS_VERSION})"
    return Check("platformio core (offline)", True, detail, "")


def _newlib_nano() -> Check:
    fix = f"{_APT} libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
    if shutil.which("arm-none-eabi-gcc") is None:
        return Check("newlib-nano (Cortex-M C library)", False, "arm-none-eabi-gcc missing", fix)
    proc = subprocess.run(
        [
            "arm-none-eabi-gcc",
            "-mcpu=cortex-m4",
            "-mthumb",
            "-mfloat-abi=hard",
            "-mfpu=fpv4-sp-d16",
            "-print-file-name=libc_nano.a",
        ],
        capture_output=True,
        text=True,
    )
    found = proc.stdout.strip()
    if proc.returncode != 0 or "/" not in found:
        return Check("newlib-nano (Cortex-M C library)", False, "libc_nano.a not found", fix)
    return Check("newlib-nano (Cortex-M C library)", True, found, "")


def _zephyr_workspace() -> Check:
    """Only Zephyr boards need it (west build/flash); never required."""
    from microdeploy.errors import ToolchainError
    from microdeploy.zephyr import west

    name = "Zephyr workspace: ZEPHYR_BASE + west (Zephyr boards)"
    try:
        west_path, base = west.check_workspace()
    except ToolchainError as exc:
        return Check(name, False, exc.message, exc.hint, required=False)
    return Check(name, True, f"ZEPHYR_BASE={base}, {west_path}", "", required=False)


def run_checks() -> list[Check]:
    """All checks, in the order a user would fix them."""
    checks = [
        _python_package("platformio", pio_core.PLATFORMIO_VERSION),
        _python_package("scons", pio_core.SCONS_VERSION),
        _python_package("typer"),
        _python_package("rich"),
        _python_package("pyserial"),
        _python_package("numpy"),
        _python_package("flatbuffers"),
        _python_package("tflite-micro", required=False),
        _platformio_core(),
        _tool("host compiler g++ (board native)", ["g++", "--version"], f"{_APT} g++ gcc"),
        _tool(
            "arm-none-eabi-gcc (Cortex-M boards)",
            ["arm-none-eabi-gcc", "--version"],
            f"{_APT} gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib",
        ),
        _newlib_nano(),
        _tool(
            "qemu-system-arm (emulated boards)",
            ["qemu-system-arm", "--version"],
            f"{_APT} qemu-system-arm",
        ),
        _zephyr_workspace(),
    ]
    return checks
