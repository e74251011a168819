"""A cold build (no PlatformIO core dir yet) never touches the network: no connect() to a
non-local address under strace, and it finishes quickly with networking unavailable (PlatformIO's
registry retries would take about 60 s)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from microdeploy.project.generate import init_project

pytestmark = pytest.mark.slow

_CONNECT = re.compile(r"connect\(\d+, \{sa_family=(AF_\w+)(.*?)\}")
_LOCAL = ("127.", "::1", "::ffff:127.")


def _cold_project(tmp_path: Path, board: str) -> tuple[Path, dict[str, str]]:
    """A fresh cache dir (so no PlatformIO core dir) and a freshly generated project."""
    env = dict(os.environ, MICRODEPLOY_CACHE=str(tmp_path / "cache"))
    project = tmp_path / "proj"
    saved = os.environ.get("MICRODEPLOY_CACHE")
    os.environ["MICRODEPLOY_CACHE"] = env["MICRODEPLOY_CACHE"]
    try:
        # --arena given: init need not build the host runner for this test.
        init_project(project, board, example="hello_world", arena_bytes=4096)
    finally:
        if saved is None:
            del os.environ["MICRODEPLOY_CACHE"]
        else:
            os.environ["MICRODEPLOY_CACHE"] = saved
    assert not list((tmp_path / "cache").glob("platformio*"))
    return project, env


def _non_local_connects(strace_log: str) -> list[str]:
    bad = []
    for family, rest in _CONNECT.findall(strace_log):
        if family in ("AF_UNIX", "AF_LOCAL", "AF_NETLINK"):
            continue
        address = re.search(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"', rest)
        if address and address.group(1).startswith(_LOCAL):
            continue
        bad.append(f"{family}{rest}")
    return bad


@pytest.mark.parametrize("board", ["native", "mps2-an386"])
def test_cold_build_makes_no_outbound_connection(tmp_path: Path, board: str) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    probe = subprocess.run(["strace", "-f", "-e", "trace=connect", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()[:200]}")
    project, env = _cold_project(tmp_path, board)
    log = tmp_path / "strace.log"
    proc = subprocess.run(
        [
            "strace",
            "-f",
            "-e",
            "trace=connect",
            "-o",
            str(log),
            sys.executable,
            "-m",
            "microdeploy.cli.main",
            "build",
            str(project),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((tmp_path / "cache").glob("platformio-*/packages/tool-scons/.piopm"))
    assert _non_local_connects(log.read_text()) == []


def test_strace_parser_catches_an_outbound_connect() -> None:
    log = (
        'connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1\n'
        'connect(4, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}'
        ", 16) = 0\n"
        'connect(5, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("1.1.1.1")}'
        ", 16) = -1 ENETUNREACH\n"
    )
    bad = _non_local_connects(log)
    assert len(bad) == 1 and "1.1.1.1" in bad[0]


def test_cold_build_without_network_is_fast(tmp_path: Path) -> None:
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0
    ):
        pytest.skip("cannot create a network namespace here (unshare -n)")
    project, env = _cold_project(tmp_path, "native")
    started = time.monotonic()
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "microdeploy.cli.main", "build", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 30, f"cold offline build took {elapsed:.1f} s"
