"""Real boards: every definition's PlatformIO settings equal the values documented for the board
(written out here from the PlatformIO board pages and manifests each file cites), the kernel path
a definition claims is the one its core can run, and the bare-metal Cortex-M variants build here
(offline, md-cortexm + Debian's arm-none-eabi-gcc) and link at the board's addresses within its
RAM and flash."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.boards import get_board, load_boards, parse_board_file
from microdeploy.build import build_project
from microdeploy.errors import BoardError
from microdeploy.project.generate import init_project, platformio_ini

# From https://docs.platformio.org/en/latest/boards/<platform>/<board>.html and the platforms'
# boards/<board>.json (SparkFun Edge: boards/SparkFun_Edge.json of
# github.com/nigelb/platform-apollo3blue):
# platform, board id, framework, upload protocol, upload speed, RAM bytes, flash bytes.
DOCUMENTED = {
    "nano33ble-sense": ("nordicnrf52", "nano33ble", "arduino", "sam-ba", None, 262144, 983040),
    "pico": ("raspberrypi", "pico", "arduino", "picotool", None, 270336, 2097152),
    # esp32dev: flash budget = app partition of the default 4 MB table (0x140000)
    "esp32-devkitc": ("espressif32", "esp32dev", "arduino", "esptool", 921600, 327680, 1310720),
    "esp32-devkitc-idf": ("espressif32", "esp32dev", "espidf", "esptool", 921600, 327680, 1310720),
    # esp32-s3-devkitc-1: app partition of default_8MB.csv (0x330000)
    "esp32-s3-devkitc": (
        "espressif32",
        "esp32-s3-devkitc-1",
        "arduino",
        "esptool",
        460800,
        327680,
        3342336,
    ),
    "stm32f746g-disco": ("ststm32", "disco_f746ng", "arduino", "stlink", None, 327680, 1048576),
    "nucleo-l4r5zi": ("ststm32", "nucleo_l4r5zi", "arduino", "stlink", None, 655360, 2097152),
    "sparkfun-edge": (
        "https://github.com/nigelb/platform-apollo3blue.git",
        "SparkFun_Edge",
        "arduino",
        "svl",
        None,
        393216,
        983040,
    ),
}
# The port (and so the clock source) each framework uses.
FRAMEWORK_PORT = {"arduino": "arduino", "espidf": "espidf"}
BAREMETAL = {
    # board: (flash origin, RAM origin, the board it is a variant of)
    "stm32f746g-disco-baremetal": (0x08000000, 0x20000000, "stm32f746g-disco"),
    "nano33ble-sense-baremetal": (0x00010000, 0x20000000, "nano33ble-sense"),
}


def _ini(tmp_path: Path, name: str):
    from platformio.project.config import ProjectConfig

    folder = tmp_path / name
    folder.mkdir()
    (folder / "platformio.ini").write_text(platformio_ini(get_board(name)))
    (folder / "platformio_user.ini").write_text("")
    config = ProjectConfig(str(folder / "platformio.ini"))
    assert config.validate()
    return config


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_generated_platformio_ini_has_the_documented_settings(tmp_path: Path, name: str) -> None:
    platform, board_id, framework, protocol, speed, ram, flash = DOCUMENTED[name]
    config = _ini(tmp_path, name)
    env = f"env:{name}"
    assert config.envs() == [name]
    assert config.get(env, "platform") == platform
    assert config.get(env, "board") == board_id
    assert config.get(env, "framework") == [framework]
    assert config.get(env, "upload_protocol") == protocol
    if speed is None:
        assert not config.has_option(env, "upload_speed")
    else:
        assert config.get(env, "upload_speed") == speed
    assert config.get(env, "monitor_speed") == get_board(name).serial_baud
    flags = " ".join(config.get(env, "build_flags")).split()
    assert f"-DMD_SERIAL_BAUD={get_board(name).serial_baud}" in flags
    assert not config.has_option("platformio", "core_dir")  # a normal project, PlatformIO's own
    board = get_board(name)
    assert (board.ram_bytes, board.flash_bytes) == (ram, flash)
    assert board.port == FRAMEWORK_PORT[framework]


def test_every_board_cites_its_documentation() -> None:
    for board in load_boards().values():
        if board.is_native:
            continue
        assert board.docs.startswith("https://"), board.name
        assert board.docs in board.source.read_text(), f"{board.source} comments cite {board.docs}"


def test_arm_dsp_kernels_exactly_where_the_compiler_sees_the_dsp_extension() -> None:
    """A board's kernel path matches its core: the optimized kernels use SMLAD only when
    arm-none-eabi-gcc defines __ARM_FEATURE_DSP for -mcpu=<core> (runtime_cpp .../int8_opt.h)."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    checked = 0
    for board in load_boards().values():
        if not board.core.startswith("cortex-m"):
            continue
        macros = subprocess.run(
            [gcc, f"-mcpu={board.core}", "-mthumb", "-dM", "-E", "-x", "c", "/dev/null"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        has_dsp = re.search(r"#define __ARM_FEATURE_DSP 1", macros) is not None
        assert (board.kernels == "arm-dsp") == has_dsp, board.name
        checked += 1
    assert checked >= 8


def test_arm_dsp_on_a_core_without_it_is_refused(tmp_path: Path) -> None:
    text = (paths.board_defs_dir() / "pico.toml").read_text()
    bad = tmp_path / "pico.toml"
    bad.write_text(text.replace('kernels = "portable"', 'kernels = "arm-dsp"'))
    with pytest.raises(BoardError) as info:
        parse_board_file(bad)
    assert str(bad) in info.value.message and "'kernels'" in info.value.message
    assert "cortex-m0plus" in info.value.message


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('clock_source = "micros"', 'clock_source = "dwt"'), "clock_source"),
        (lambda t: t.replace('kernels = "arm-dsp"', 'kernels = "portable"'), "kernels"),
        (lambda t: t.replace('kernels = "arm-dsp"', 'kernels = "fast"'), "kernels"),
        (lambda t: t.replace('[upload]\nprotocol = "stlink"\n', ""), "upload"),
        (lambda t: t.replace('framework = "arduino"', "framework = 1"), "platformio.framework"),
        (lambda t: t + 'defines = ["-DX"]\n', "defines"),
    ],
)
def test_wrong_real_board_field_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    text = (paths.board_defs_dir() / "stm32f746g-disco.toml").read_text()
    bad = tmp_path / "stm32f746g-disco.toml"
    edited = edit(text)
    if field == "defines":  # top-level key: before the first table
        edited = text.replace("kernels =", 'defines = ["-DX"]\nkernels =')
    bad.write_text(edited)
    with pytest.raises(BoardError) as info:
        parse_board_file(bad)
    assert str(bad) in info.value.message and f"'{field}'" in info.value.message


def test_init_with_a_misspelt_board_suggests_the_closest(tmp_path: Path) -> None:
    hello = paths.examples_dir() / "hello_world" / "model.tflite"
    result = run_cli("init", str(tmp_path / "p"), "--board", "nano33ble", "--model", str(hello))
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "unknown board 'nano33ble'" in result.stderr
    assert "did you mean nano33ble-sense" in result.stderr
    result = run_cli("init", str(tmp_path / "p"), "--board", "stm32f746", "--model", str(hello))
    assert "did you mean stm32f746g-disco" in result.stderr
    assert not (tmp_path / "p").exists()


def _section(elf: Path, name: str) -> tuple[int, int]:
    """(address, size) of an ELF section."""
    out = subprocess.run(
        ["arm-none-eabi-readelf", "-S", "-W", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(rf"\s{re.escape(name)}\s+\w+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out)
    assert match, f"no {name} in {elf}"
    return int(match.group(1), 16), int(match.group(2), 16)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAREMETAL))
def test_baremetal_variant_builds_and_links_within_the_board(tmp_path: Path, name: str) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    model = paths.shared_models_dir() / "tflm" / "person_detect.tflite"
    if not model.is_file():
        model = paths.examples_dir() / "person_detection" / "model.tflite"
    flash_origin, ram_origin, variant_of = BAREMETAL[name]
    board = get_board(name)
    assert board.port == "cmsis" and board.platformio.platform == "md-cortexm"
    # the same chip and budget as the documented board it is a variant of
    real = get_board(variant_of)
    assert (board.core, board.fpu, board.ram_bytes, board.flash_bytes) == (
        real.core,
        real.fpu,
        real.ram_bytes,
        real.flash_bytes,
    )
    project = tmp_path / "proj"
    init_project(project, name, model=model)
    ini = (project / "platformio.ini").read_text()
    assert f"upload_protocol = {board.upload.protocol}" in ini
    result = build_project(project)
    assert result.size.flash_bytes > model.stat().st_size  # the model is in flash
    assert result.size.flash_bytes <= board.flash_bytes and result.size.ram_bytes <= board.ram_bytes
    elf = result.firmware
    vectors, _ = _section(elf, ".isr_vector")
    assert vectors == flash_origin  # the vector table where the chip (or bootloader) looks
    text_addr, text_size = _section(elf, ".text")
    assert flash_origin <= text_addr and text_addr + text_size <= flash_origin + board.flash_bytes
    stack_addr, stack_size = _section(elf, ".stack")
    data_addr, _ = _section(elf, ".data")
    assert ram_origin <= data_addr and stack_addr + stack_size <= ram_origin + board.ram_bytes
    symbols = subprocess.run(
        ["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"\bmd_uart_init$", symbols, re.M)  # the register-level UART is linked in


def test_reference_kernels_and_defines_reach_the_compiler_flags() -> None:
    import dataclasses

    board = get_board("stm32f746g-disco-baremetal")
    flags = platformio_ini(board).split("build_flags = ", 1)[1].splitlines()[0].split()
    assert flags == [
        "-DMD_SERIAL_BAUD=115200",
        "-DMD_CPU_HZ=16000000",
        "-DMD_CMSIS_STM32F7_USART1",
        "${user.build_flags}",  # platformio_user.ini's [user] flags, appended
    ]
    reference = dataclasses.replace(board, kernels="reference")
    assert "-DMD_KERNELS_REFERENCE" in platformio_ini(reference)


@pytest.mark.parametrize("name", sorted(load_boards()))
def test_init_works_for_every_board_and_vendors_its_port(tmp_path: Path, name: str) -> None:
    board = get_board(name)
    project = tmp_path / "p"
    result = init_project(project, name, example="hello_world")
    ports = project / "lib" / "md_runtime" / "src" / "md" / "ports"
    assert [p.name for p in ports.iterdir()] == [board.port]
    build_file = "CMakeLists.txt" if board.is_zephyr else "platformio.ini"
    assert build_file in result.written
    own_board_json = board.platformio.is_own_platform and not board.is_native
    assert (project / "boards" / f"{board.platformio.board}.json").is_file() == own_board_json
