"""`microdeploy doctor` reports each missing piece with the command that fixes it."""

from __future__ import annotations

import sys
from pathlib import Path

from cli_helpers import run_cli

from microdeploy.doctor import run_checks


def test_doctor_names_the_fix_for_missing_toolchains(tmp_path: Path) -> None:
    # A PATH with only our Python on it: no g++, arm-none-eabi-gcc or QEMU.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    result = run_cli("doctor", env={"PATH": str(bin_dir), "COLUMNS": "200"})
    assert result.code == 1
    out = result.stdout
    assert "apt-get install -y --no-install-recommends g++" in out
    assert "gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib" in out
    assert "apt-get install -y --no-install-recommends qemu-system-arm" in out
    assert "Traceback" not in result.stderr


def test_doctor_checks_match_this_machine() -> None:
    checks = {c.name: c for c in run_checks()}
    platformio = checks["python: platformio"]
    assert platformio.ok, platformio.detail  # the pinned version is what we run with
    for check in checks.values():
        assert check.ok or check.fix, f"{check.name} fails without a fix command"
