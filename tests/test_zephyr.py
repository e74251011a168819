"""Zephyr applications: `init --board zephyr:<board>` and board definitions with build = "zephyr"
generate CMakeLists.txt + prj.conf around the vendored runtime with the zephyr port; `build` and
`flash` say exactly what is missing without a Zephyr workspace, and with one call west with the
right arguments (a stand-in `west` on PATH records them: Zephyr itself cannot be installed
here) and read the linker's memory report."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.boards import get_board
from microdeploy.errors import BoardError
from microdeploy.project.generate import init_project
from microdeploy.zephyr.west import memory_usage

HELLO = paths.examples_dir() / "hello_world" / "model.tflite"


def _one_line_error(result, text: str) -> None:
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and text in lines[0], result.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: ")


@pytest.mark.parametrize(
    ("board", "zephyr_board"),
    [
        ("zephyr:nrf52840dk/nrf52840", "nrf52840dk/nrf52840"),
        ("nucleo-l4r5zi-zephyr", "nucleo_l4r5zi"),
    ],
)
def test_init_generates_a_zephyr_application(tmp_path: Path, board: str, zephyr_board: str) -> None:
    project = tmp_path / "app"
    result = run_cli("init", str(project), "--board", board, "--model", str(HELLO))
    assert result.code == 0, result.stderr
    cmake = (project / "CMakeLists.txt").read_text()
    assert "find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})" in cmake
    assert f"set(BOARD {zephyr_board} CACHE STRING" in cmake
    assert "target_sources(app PRIVATE ${app_sources} ${md_runtime_sources})" in cmake
    assert "lib/md_runtime/src/md/*.cc" in cmake and "MD_SERIAL_BAUD=115200" in cmake
    conf = dict(
        line.split("=", 1)
        for line in (project / "prj.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert conf["CONFIG_CPP"] == "y" and conf["CONFIG_STD_CPP17"] == "y"
    assert conf["CONFIG_CPP_EXCEPTIONS"] == "n" and conf["CONFIG_CPP_RTTI"] == "n"
    assert conf["CONFIG_SERIAL"] == "y" and conf["CONFIG_UART_CONSOLE"] == "n"
    assert conf["CONFIG_PRINTK"] == "n"  # nothing else prints on the protocol's UART
    main = (project / "src" / "main.cpp").read_text()
    assert "md::app::Serve" in main and "md::port::Init()" in main
    for name in ("model_data.cpp", "md_model_ops.cpp", "md_config.h"):
        assert (project / "src" / name).is_file()
    ports = project / "lib" / "md_runtime" / "src" / "md" / "ports"
    assert [p.name for p in ports.iterdir()] == ["zephyr"]
    assert (ports / "zephyr" / "port.cc").read_bytes() == (
        paths.runtime_dir() / "src" / "md" / "ports" / "zephyr" / "port.cc"
    ).read_bytes()
    assert not (project / "platformio.ini").exists()
    assert not (project / "platformio_user.ini").exists()
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert manifest["board"] == board
    assert "prj.conf" in manifest["user_files"] and "CMakeLists.txt" in manifest["generated"]


def test_prj_conf_is_the_users(tmp_path: Path) -> None:
    project = tmp_path / "app"
    init_project(project, "zephyr:qemu_cortex_m3", model=HELLO)
    (project / "prj.conf").write_text("CONFIG_CPP=y\n# mine\n")
    init_project(project, "zephyr:qemu_cortex_m3", model=HELLO)
    assert (project / "prj.conf").read_text() == "CONFIG_CPP=y\n# mine\n"


@pytest.mark.parametrize("name", ["", "nrf 52", "a;rm -rf"])
def test_bad_zephyr_board_name(name: str) -> None:
    with pytest.raises(BoardError, match="is not a Zephyr board name"):
        get_board(f"zephyr:{name}")


def test_build_and_flash_without_a_workspace_say_what_is_missing(tmp_path: Path) -> None:
    project = tmp_path / "app"
    init_project(project, "zephyr:nrf52840dk/nrf52840", model=HELLO)
    env = {k: v for k, v in os.environ.items() if k != "ZEPHYR_BASE"}
    env["ZEPHYR_BASE"] = ""
    for command in ("build", "flash"):
        _one_line_error(run_cli(command, str(project), env=env), "ZEPHYR_BASE is not set")
    env["ZEPHYR_BASE"] = str(tmp_path / "nowhere")
    _one_line_error(run_cli("build", str(project), env=env), "is not a Zephyr tree")
    zephyr = _fake_zephyr_tree(tmp_path)
    env.update(ZEPHYR_BASE=str(zephyr), PATH=str(tmp_path / "empty-bin"))
    result = run_cli("build", str(project), env=env)
    _one_line_error(result, "west is not installed")
    assert "pip install west" in result.stderr


def _fake_zephyr_tree(tmp_path: Path) -> Path:
    zephyr = tmp_path / "zephyrproject" / "zephyr"
    (zephyr / "cmake" / "modules").mkdir(parents=True)
    (zephyr / "cmake" / "modules" / "zephyr_default.cmake").write_text("")
    return zephyr


# A stand-in `west`: records its arguments; `build` writes build/zephyr/zephyr.elf and prints the
# linker's memory table as Zephyr's build does.
FAKE_WEST = """\
#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1] == "build":
    build = sys.argv[sys.argv.index("-d") + 1]
    os.makedirs(os.path.join(build, "zephyr"), exist_ok=True)
    open(os.path.join(build, "zephyr", "zephyr.elf"), "wb").close()
    print("Memory region         Used Size  Region Size  %age Used")
    print("           FLASH:       41236 B         1 MB      3.93%")
    print("             RAM:        9876 B       256 KB      3.77%")
    print("        IDT_LIST:          0 GB        32 KB      0.00%")
"""


def test_build_and_flash_run_west_and_read_the_memory_report(tmp_path: Path) -> None:
    project = tmp_path / "app"
    init_project(project, "zephyr:nrf52840dk/nrf52840", model=HELLO)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "west.log"
    west = bin_dir / "west"
    west.write_text(FAKE_WEST.format(python=sys.executable, log=str(log)))
    west.chmod(west.stat().st_mode | stat.S_IEXEC)
    env = {
        "ZEPHYR_BASE": str(_fake_zephyr_tree(tmp_path)),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    result = run_cli("build", str(project), "--json", env=env)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["flash_bytes"], report["flash_budget"]) == (41236, 1024 * 1024)
    assert (report["ram_bytes"], report["ram_budget"]) == (9876, 256 * 1024)
    assert report["firmware"] == str(project.resolve() / "build" / "zephyr" / "zephyr.elf")
    result = run_cli("flash", str(project), env=env)
    assert result.code == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    build_dir = str(project.resolve() / "build")
    assert calls == [
        ["build", "-b", "nrf52840dk/nrf52840", "-d", build_dir, str(project.resolve())],
        ["flash", "-d", build_dir],
    ]


def test_memory_report_units() -> None:
    usage = memory_usage(
        [
            "Memory region         Used Size  Region Size  %age Used",
            "           FLASH:      123 KB         2 MB      6.01%",
            "            SRAM:        2 KB       640 KB      0.31%",
            "not a region line",
        ]
    )
    assert usage == {"FLASH": (123 * 1024, 2 * 1024 * 1024), "SRAM": (2048, 640 * 1024)}
