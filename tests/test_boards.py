"""Board definitions: the built-in ones load, bad files are reported with file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy.boards import get_board, load_boards, parse_board_file
from microdeploy.errors import BoardError

GOOD_M4 = """\
name = "{name}"
description = "test board"
mcu = "cortex-m4f"
core = "cortex-m4"
fpu = "fpv4-sp-d16"
clock_hz = 25000000
ram_bytes = 262144
flash_bytes = 1048576
port = "mps2"
clock_source = "systick"

[memory]
flash_origin = 0
ram_origin = 0x20000000

[platformio]
platform = "md-cortexm"
board = "{name}"
framework = ""

[upload]
protocol = "qemu"
"""


def test_builtin_boards_load_with_their_budgets() -> None:
    boards = load_boards()
    assert {"native", "mps2-an386"} <= set(boards)
    mps2 = boards["mps2-an386"]
    assert (mps2.ram_bytes, mps2.flash_bytes) == (256 * 1024, 1024 * 1024)
    assert mps2.core == "cortex-m4" and mps2.fpu == "fpv4-sp-d16"
    assert mps2.port == "mps2" and mps2.qemu is not None and mps2.qemu.machine == "mps2-an386"
    assert mps2.platformio.platform == "md-cortexm"
    native = boards["native"]
    assert native.is_native and native.port == "native"
    assert native.ram_bytes is None and native.flash_bytes is None


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(BoardError) as info:
        get_board("no-such-board")
    assert "no-such-board" in info.value.message
    assert "mps2-an386" in info.value.hint and "native" in info.value.hint


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('core = "cortex-m4"\n', ""), "core"),
        (lambda t: t.replace("ram_bytes = 262144", 'ram_bytes = "lots"'), "ram_bytes"),
        (lambda t: t.replace("flash_bytes = 1048576", "flash_bytes = -1"), "flash_bytes"),
        (lambda t: t.replace('port = "mps2"', 'port = "nowhere"'), "port"),
        (lambda t: t.replace('platform = "md-cortexm"', "platform = 3"), "platformio.platform"),
        (lambda t: t.replace("ram_origin = 0x20000000", ""), "memory.ram_origin"),
        (lambda t: 'colour = "red"\n' + t, "colour"),
        (lambda t: t + 'colour = "red"\n', "upload.colour"),
        (lambda t: t.replace('name = "bad"', 'name = "other"'), "name"),
    ],
)
def test_bad_board_file_error_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    path = _write(tmp_path, "bad", edit(GOOD_M4.format(name="bad")))
    with pytest.raises(BoardError) as info:
        parse_board_file(path)
    assert str(path) in info.value.message
    assert f"'{field}'" in info.value.message


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken", "name = \n")
    with pytest.raises(BoardError, match="broken.toml"):
        parse_board_file(path)


def test_extra_board_folder_adds_boards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "my-m4", GOOD_M4.format(name="my-m4"))
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(tmp_path))
    assert get_board("my-m4").source == tmp_path / "my-m4.toml"


def test_cli_boards_json_lists_the_budgets() -> None:
    result = run_cli("boards", "--json")
    assert result.code == 0, result.stderr
    boards = {b["name"]: b for b in json.loads(result.stdout)}
    assert boards["mps2-an386"]["flash_bytes"] == 1048576
    assert boards["mps2-an386"]["ram_bytes"] == 262144


def test_cli_bad_board_file_is_one_error_line_not_a_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "bad", GOOD_M4.format(name="bad").replace("clock_hz = 25000000", ""))
    result = run_cli("boards", env={"MICRODEPLOY_BOARD_PATH": str(tmp_path)})
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert "bad.toml" in result.stderr and "'clock_hz'" in result.stderr
    assert "hint: " in result.stderr


def test_cli_boards_json_has_the_real_board_fields() -> None:
    result = run_cli("boards", "--json")
    assert result.code == 0, result.stderr
    boards = {b["name"]: b for b in json.loads(result.stdout)}
    nano = boards["nano33ble-sense"]
    assert (nano["platform"], nano["pio_board"], nano["framework"]) == (
        "nordicnrf52",
        "nano33ble",
        "arduino",
    )
    assert (nano["upload_protocol"], nano["serial_baud"], nano["kernels"]) == (
        "sam-ba",
        115200,
        "arm-dsp",
    )
    assert nano["clock_source"] == "micros" and nano["docs"].startswith("https://")
    assert boards["mps2-an385"]["kernels"] == "portable" and boards["mps2-an385"]["fpu"] == "none"
    zephyr = boards["nucleo-l4r5zi-zephyr"]
    assert (zephyr["build"], zephyr["zephyr_board"], zephyr["platform"]) == (
        "zephyr",
        "nucleo_l4r5zi",
        None,
    )


@pytest.mark.parametrize("width", [80, 120, 200])
def test_cli_boards_table_fits_the_terminal(width: int) -> None:
    result = run_cli("boards", env={"COLUMNS": str(width)})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    names = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    for name in ("mps2-an385", "mps2-an500", "stm32f746g-disco-baremetal", "nucleo-l4r5zi-zephyr"):
        assert name in names  # names are never cut or folded
    assert "zephyr:<name>" in result.stdout
    if width >= 140:
        assert "arm-dsp" in result.stdout and "k_cycle" in result.stdout
