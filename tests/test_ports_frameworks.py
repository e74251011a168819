"""The framework ports (Arduino, ESP-IDF, Zephyr) and the bare-metal CMSIS port, where their SDKs
cannot be installed: each compiles with the runtime's flags (C++17, -Wall -Wextra -Werror, no
exceptions/RTTI) against the stand-in headers in tests/port_stubs/, then runs against a
simulated clock and serial line (timeouts, reads, writes, 64-bit ticks across the 32-bit
wrap). The CMSIS port is cross-compiled for the boards that use it with arm-none-eabi-g++."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import paths
from microdeploy.boards import PORT_CLOCKS, load_boards

STUBS = Path(__file__).resolve().parent / "port_stubs"
PORTS = paths.runtime_dir() / "src" / "md" / "ports"
FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]

# port -> (its ClockName(), TicksPerSecond() in the simulation)
FRAMEWORKS = {
    "arduino": ("micros", 1_000_000),
    "espidf": ("esp_timer", 1_000_000),
    "zephyr": ("k_cycle", 64_000_000),  # a 64 MHz cycle counter wraps every 67 s
}


def _gxx() -> str:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    return gxx


@pytest.mark.parametrize("port", sorted(FRAMEWORKS))
def test_framework_port_compiles_and_runs_against_the_stand_ins(port: str, tmp_path: Path) -> None:
    clock, hz = FRAMEWORKS[port]
    program = tmp_path / f"port_{port}"
    sources = [
        PORTS / port / "port.cc",
        STUBS / "sim.cc",
        STUBS / port / f"{port}_sim.cc",
        STUBS / "port_sim_main.cc",
    ]
    includes = ["-I", str(paths.runtime_dir() / "src"), "-I", str(STUBS), "-I", str(STUBS / port)]
    build = subprocess.run(
        [_gxx(), *FLAGS, *includes, *map(str, sources), "-o", str(program)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(program), clock, str(hz)], capture_output=True, text=True, timeout=30)
    failures = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failures, run.stdout + run.stderr
    assert len(re.findall(r"^PASS ", run.stdout, re.M)) == 10


def test_port_clock_names_are_what_board_definitions_say() -> None:
    """ClockName() in each port's source is the clock_source its boards declare."""
    for port, clock in PORT_CLOCKS.items():
        source = (PORTS / port / "port.cc").read_text()
        assert re.search(r'ClockName\(\) \{ return "' + re.escape(clock) + r'"; \}', source), port
    for board in load_boards().values():
        assert board.clock_source == PORT_CLOCKS[board.port], board.name


@pytest.mark.parametrize(
    ("cpu", "fpu", "uart"),
    [
        ("cortex-m7", "fpv5-sp-d16", "MD_CMSIS_STM32F7_USART1"),  # STM32F746
        ("cortex-m4", "fpv4-sp-d16", "MD_CMSIS_NRF52_UART0"),  # nRF52840
        ("cortex-m3", "", ""),  # hooks supplied by the board's own code
    ],
)
def test_cmsis_port_cross_compiles(cpu: str, fpu: str, uart: str, tmp_path: Path) -> None:
    gxx = shutil.which("arm-none-eabi-g++")
    if gxx is None:
        pytest.skip("arm-none-eabi-g++ is not installed")
    machine = [f"-mcpu={cpu}", "-mthumb"]
    machine += [f"-mfpu={fpu}", "-mfloat-abi=hard"] if fpu else ["-mfloat-abi=soft"]
    defines = ["-DMD_CPU_HZ=16000000"] + ([f"-D{uart}"] if uart else [])
    obj = tmp_path / "port.o"
    proc = subprocess.run(
        [
            gxx,
            *FLAGS,
            *machine,
            *defines,
            "-I",
            str(paths.runtime_dir() / "src"),
            "-c",
            str(PORTS / "cmsis" / "port.cc"),
            "-o",
            str(obj),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    symbols = subprocess.run(
        ["arm-none-eabi-nm", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    # The UART hooks: defined (weak, replaceable) for a known UART, required (undefined) otherwise.
    kind = {
        m.group(2): m.group(1) for m in re.finditer(r"^\S*\s+(\w) (md_uart_\w+)$", symbols, re.M)
    }
    assert set(kind) == {"md_uart_init", "md_uart_put", "md_uart_get"}
    assert set(kind.values()) == ({"W"} if uart else {"U"})
