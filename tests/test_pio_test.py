"""`pio test` in a generated project works offline on both boards: our custom runner (never
Unity from the registry), natively and under QEMU, with failures reported; and a test/ folder
does not make `microdeploy build` wait on the registry."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy.pio import core as pio_core
from microdeploy.project.generate import init_project

pytestmark = pytest.mark.slow

TEST_MAIN = """\
#include <cstring>

#include "md/port.h"

static void Line(const char* s) {
  md::port::SerialWrite(reinterpret_cast<const uint8_t*>(s), strlen(s));
}

int main() {
  md::port::Init();
  int failures = 0;
  const uint64_t a = md::port::Ticks();
  const uint64_t b = md::port::Ticks();
  if (b >= a) {
    Line("PASS ticks_monotonic\\n");
  } else {
    Line("FAIL ticks_monotonic: went back\\n");
    ++failures;
  }
  if (%(condition)s) {
    Line("PASS second_case\\n");
  } else {
    Line("FAIL second_case: condition was false\\n");
    ++failures;
  }
  md::port::Exit(failures ? 1 : 0);
}
"""


def _project_with_test(tmp_path: Path, board: str, condition: str) -> Path:
    project = tmp_path / "proj"
    init_project(project, board, example="hello_world", arena_bytes=4096)
    test_dir = project / "test" / "test_smoke"
    test_dir.mkdir(parents=True)
    (test_dir / "test_main.cpp").write_text(TEST_MAIN % {"condition": condition})
    return project


def _pio_test(project: Path) -> subprocess.CompletedProcess[str]:
    pio_core.ensure_core()
    return subprocess.run(
        pio_core.pio_command("test", "-d", str(project)),
        capture_output=True,
        text=True,
        env=pio_core.pio_environment(),
        timeout=300,
    )


@pytest.mark.parametrize("board", ["native", "mps2-an386"])
def test_pio_test_runs_offline(tmp_path: Path, board: str) -> None:
    if board != "native" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    passing = _pio_test(_project_with_test(tmp_path / "ok", board, "1 + 1 == 2"))
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "2 test cases: 2 succeeded" in passing.stdout
    assert "Unity" not in passing.stdout + passing.stderr

    failing = _pio_test(_project_with_test(tmp_path / "bad", board, "1 + 1 == 3"))
    output = failing.stdout + failing.stderr
    assert failing.returncode != 0
    assert "FAIL second_case: condition was false" in output
    assert "1 failed, 1 succeeded" in output


def test_test_folder_does_not_make_build_wait_on_the_registry(tmp_path: Path) -> None:
    project = _project_with_test(tmp_path, "native", "true")
    started = time.monotonic()
    result = run_cli("build", str(project), timeout=120)
    assert result.code == 0, result.stderr
    assert time.monotonic() - started < 30
