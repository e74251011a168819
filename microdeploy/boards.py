"""Board definitions: one declarative TOML file per board in board_defs/, validated into typed,
frozen objects. Every validation error names the file and the field at fault.

Extra board folders can be added with MICRODEPLOY_BOARD_PATH (os.pathsep-separated), e.g. for
a custom board or a test fixture; a board there with the same name replaces the built-in one.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from microdeploy import paths
from microdeploy.camera import CameraSpec, parse_camera
from microdeploy.errors import BoardError

# Development platforms shipped inside microdeploy (microdeploy/pio/platforms/<name>).
OWN_PLATFORMS = ("md-native", "md-cortexm")

# How a board's firmware is built: a PlatformIO project, or a Zephyr application (west).
BUILD_SYSTEMS = ("platformio", "zephyr")
ZEPHYR_PREFIX = "zephyr:"  # `--board zephyr:<zephyr board>` needs no board definition file

# Which kernel path fits the core (runtime_cpp/src/md/kernels/int8_opt.h chooses at compile time):
# "arm-dsp": the optimized int8 paths on the Cortex-M DSP extension (SXTB16 + SMLAD), only on
# cores that have it; "portable": the optimized paths in plain C++ (the compiler vectorizes);
# "reference": TFLM-shaped reference loops only (-DMD_KERNELS_REFERENCE).
KERNEL_PATHS = ("reference", "portable", "arm-dsp")
ARM_DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85")

# The clock each port reads (what its md::port::ClockName() returns); a board's clock_source
# must be its port's, so the boards table never claims a timer the firmware does not use.
PORT_CLOCKS = {
    "native": "steady_clock",
    "mps2": "systick",
    "cmsis": "dwt",
    "arduino": "micros",
    "espidf": "esp_timer",
    "zephyr": "k_cycle",
}


@dataclass(frozen=True)
class PlatformIOSettings:
    platform: str  # "md-native", "md-cortexm", or an official platform ("nordicnrf52")
    board: str
    framework: str  # "" when none
    extra: tuple[tuple[str, str], ...] = ()  # further `key = value` lines of the [env]

    @property
    def is_own_platform(self) -> bool:
        return self.platform in OWN_PLATFORMS


@dataclass(frozen=True)
class MemoryMap:
    flash_origin: int
    ram_origin: int


@dataclass(frozen=True)
class QemuSettings:
    machine: str
    extra_args: tuple[str, ...] = ()

    def command(self) -> list[str]:
        """qemu-system-arm for this machine, without a display or monitor, with semihosting (the
        firmware's exit code); callers add the serial ports and the kernel."""
        return [
            "qemu-system-arm",
            "-M",
            self.machine,
            *self.extra_args,
            "-nographic",
            "-monitor",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
        ]


@dataclass(frozen=True)
class UploadSettings:
    protocol: str  # "none" (native), "qemu", or a PlatformIO upload_protocol
    speed: int | None = None


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    core: str
    fpu: str
    clock_hz: int
    ram_bytes: int | None  # None: no budget (host)
    flash_bytes: int | None
    port: str  # runtime_cpp/src/md/ports/<port>
    clock_source: str
    serial_baud: int
    platformio: PlatformIOSettings
    memory: MemoryMap | None
    qemu: QemuSettings | None
    upload: UploadSettings
    source: Path  # the .toml it came from
    kernels: str = "portable"  # KERNEL_PATHS: the optimized kernel path that fits the core
    build: str = "platformio"  # BUILD_SYSTEMS
    zephyr_board: str = ""  # the Zephyr board name (`west build -b`) when build = "zephyr"
    docs: str = ""  # where the PlatformIO/Zephyr settings were checked (board documentation)
    defines: tuple[str, ...] = ()  # preprocessor defines the board's port needs (NAME or NAME=V)
    camera: CameraSpec | None = None  # [camera]: the board's sensor (microdeploy/camera.py)

    @property
    def is_native(self) -> bool:
        return self.platformio.platform == "md-native"

    @property
    def is_zephyr(self) -> bool:
        return self.build == "zephyr"

    @property
    def is_emulated(self) -> bool:
        return self.qemu is not None


class _Fields:
    """Typed access to one TOML table that reports `<file>: field '<path>' ...` on error."""

    def __init__(self, data: dict[str, Any], file: Path, prefix: str = "") -> None:
        self._data = data
        self._file = file
        self._prefix = prefix
        self._used: set[str] = set()

    def _fail(self, key: str, problem: str) -> BoardError:
        return BoardError(
            f"{self._file}: field '{self._prefix}{key}' {problem}",
            hint="fix the board definition (see board_defs/mps2-an386.toml for a complete one)",
        )

    def _get(self, key: str, kind: type | tuple[type, ...], required: bool, default: Any) -> Any:
        self._used.add(key)
        if key not in self._data:
            if required:
                raise self._fail(key, "is missing")
            return default
        value = self._data[key]
        # bool is an int in Python; a board figure of `true` is a mistake, not 1.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self._fail(key, f"must be {_kind_name(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self._fail(key, f"must be {_kind_name(kind)}, got {value!r}")
        return value

    def text(self, key: str, required: bool = True, default: str = "") -> str:
        value = self._get(key, str, required, default)
        if required and not value.strip():
            raise self._fail(key, "must not be empty")
        return value

    def number(
        self, key: str, required: bool = True, default: int | None = None, minimum: int = 0
    ) -> int | None:
        value = self._get(key, int, required, default)
        if value is not None and value < minimum:
            raise self._fail(key, f"must be >= {minimum}, got {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, list, False, [])
        for item in value:
            if not isinstance(item, str):
                raise self._fail(key, f"must be a list of strings, got {item!r}")
        return tuple(value)

    def table(self, key: str, required: bool) -> _Fields | None:
        value = self._get(key, dict, required, None)
        if value is None:
            return None
        return _Fields(value, self._file, f"{self._prefix}{key}.")

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise self._fail(unknown[0], "is not a known board field")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_board_file(path: Path) -> Board:
    """Reads and validates one board definition."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BoardError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(
            f"{path}: not valid TOML ({exc})", hint="check the file's syntax"
        ) from None
    top = _Fields(data, path)
    name = top.text("name")
    if name != path.stem:
        raise top._fail("name", f"must match the file name '{path.stem}', got {name!r}")

    build = top.text("build", required=False, default="platformio")
    if build not in BUILD_SYSTEMS:
        raise top._fail("build", f"must be one of {', '.join(BUILD_SYSTEMS)}, got {build!r}")
    zephyr_board = ""
    zephyr_fields = top.table("zephyr", required=build == "zephyr")
    if zephyr_fields is not None:
        zephyr_board = zephyr_fields.text("board")
        zephyr_fields.reject_unknown()

    pio = top.table("platformio", required=build == "platformio")
    platformio = PlatformIOSettings(platform="", board="", framework="")  # unused by Zephyr
    if pio is not None:
        extra_table = pio.table("extra", required=False)
        extra: tuple[tuple[str, str], ...] = ()
        if extra_table is not None:
            extra = tuple(
                (key, str(extra_table.text(key, required=False)))
                for key in sorted(extra_table._data)
            )
        platformio = PlatformIOSettings(
            platform=pio.text("platform"),
            board=pio.text("board"),
            framework=pio.text("framework", required=False),
            extra=extra,
        )
        pio.reject_unknown()

    memory_fields = top.table("memory", required=platformio.platform == "md-cortexm")
    memory = None
    if memory_fields is not None:
        memory = MemoryMap(
            flash_origin=memory_fields.number("flash_origin") or 0,
            ram_origin=memory_fields.number("ram_origin") or 0,
        )
        memory_fields.reject_unknown()

    qemu_fields = top.table("qemu", required=False)
    qemu = None
    if qemu_fields is not None:
        qemu = QemuSettings(
            machine=qemu_fields.text("machine"), extra_args=qemu_fields.strings("extra_args")
        )
        qemu_fields.reject_unknown()

    upload_fields = top.table("upload", required=build == "platformio")
    upload = UploadSettings(protocol="west")  # Zephyr: `west flash` with the board's runner
    if upload_fields is not None:
        upload = UploadSettings(
            protocol=upload_fields.text("protocol"),
            speed=upload_fields.number("speed", required=False, minimum=1),
        )
        upload_fields.reject_unknown()

    camera_fields = top.table("camera", required=False)
    camera = parse_camera(camera_fields, top.text("port")) if camera_fields is not None else None

    # The host has no budget; Zephyr's own linker script holds the board's memory.
    budget_required = platformio.platform != "md-native" and build == "platformio"
    board = Board(
        name=name,
        description=top.text("description"),
        mcu=top.text("mcu"),
        core=top.text("core"),
        fpu=top.text("fpu"),
        clock_hz=top.number("clock_hz") or 0,
        ram_bytes=top.number("ram_bytes", required=budget_required, minimum=1),
        flash_bytes=top.number("flash_bytes", required=budget_required, minimum=1),
        port=top.text("port"),
        clock_source=top.text("clock_source"),
        serial_baud=top.number("serial_baud", required=False, default=115200, minimum=1) or 0,
        platformio=platformio,
        memory=memory,
        qemu=qemu,
        upload=upload,
        source=path,
        kernels=top.text("kernels", required=False, default=""),
        build=build,
        zephyr_board=zephyr_board,
        docs=top.text("docs", required=False),
        defines=top.strings("defines"),
        camera=camera,
    )
    top.reject_unknown()
    port_dir = paths.runtime_dir() / "src" / "md" / "ports" / board.port
    if not (port_dir / "port.cc").is_file():
        raise top._fail("port", f"names no runtime port ({port_dir}/port.cc is missing)")
    _check_consistency(board, top)
    if not board.kernels:
        board = replace(board, kernels=default_kernels(board.core))
    return board


def default_kernels(core: str) -> str:
    """The fastest kernel path the core can run (a board may state a slower one)."""
    return "arm-dsp" if core in ARM_DSP_CORES else "portable"


def _check_consistency(board: Board, top: _Fields) -> None:
    """Fields that each look fine but contradict one another."""
    if board.kernels and board.kernels not in KERNEL_PATHS:
        raise top._fail(
            "kernels", f"must be one of {', '.join(KERNEL_PATHS)}, got {board.kernels!r}"
        )
    if board.kernels == "arm-dsp" and board.core not in ARM_DSP_CORES:
        raise top._fail(
            "kernels",
            f"is 'arm-dsp' but core '{board.core}' has no DSP extension "
            f"(cores with it: {', '.join(ARM_DSP_CORES)})",
        )
    if board.kernels == "portable" and board.core in ARM_DSP_CORES:
        # int8_opt.h takes the DSP path whenever the compiler targets such a core
        raise top._fail(
            "kernels",
            f"is 'portable' but core '{board.core}' always gets the DSP path of the optimized "
            "kernels: say 'arm-dsp' (or 'reference' for the reference kernels)",
        )
    expected_clock = PORT_CLOCKS.get(board.port)
    if expected_clock is not None and board.clock_source != expected_clock:
        raise top._fail(
            "clock_source",
            f"must be '{expected_clock}' (the clock port '{board.port}' reads), "
            f"got {board.clock_source!r}",
        )
    for define in board.defines:
        if not define or not (define.split("=", 1)[0].replace("_", "a").isalnum()):
            raise top._fail("defines", f"must be NAME or NAME=VALUE, got {define!r}")
    if board.is_zephyr and board.port != "zephyr":
        raise top._fail("port", f"must be 'zephyr' for a Zephyr build, got {board.port!r}")
    if board.platformio.platform == "md-cortexm" and not board.core.startswith("cortex-m"):
        raise top._fail("core", f"must be a Cortex-M core on md-cortexm, got {board.core!r}")


def zephyr_board(zephyr_name: str) -> Board:
    """A board for `--board zephyr:<name>`: Zephyr knows the hardware, we only need the name.

    Nothing here is checked against Zephyr (it may not be installed when init runs); `west
    build -b <name>` reports an unknown board itself.
    """
    if not zephyr_name or not all(c.isalnum() or c in "_-/@." for c in zephyr_name):
        raise BoardError(
            f"'{ZEPHYR_PREFIX}{zephyr_name}' is not a Zephyr board name",
            hint="e.g. --board zephyr:nrf52840dk/nrf52840 (see `west boards`)",
        )
    return Board(
        name=f"{ZEPHYR_PREFIX}{zephyr_name}",
        description=f"Zephyr board {zephyr_name} (hardware as Zephyr's board files describe it)",
        mcu="(zephyr)",
        core="(zephyr)",
        fpu="(zephyr)",
        clock_hz=0,
        ram_bytes=None,
        flash_bytes=None,
        port="zephyr",
        clock_source=PORT_CLOCKS["zephyr"],
        serial_baud=115200,
        platformio=PlatformIOSettings(platform="", board="", framework=""),
        memory=None,
        qemu=None,
        upload=UploadSettings(protocol="west"),
        source=paths.board_defs_dir(),
        kernels="portable",
        build="zephyr",
        zephyr_board=zephyr_name,
        docs="https://docs.zephyrproject.org/latest/boards/index.html",
    )


def board_dirs() -> list[Path]:
    """Built-in board_defs/ first, then MICRODEPLOY_BOARD_PATH entries (which override)."""
    dirs = [paths.board_defs_dir()]
    extra = os.environ.get("MICRODEPLOY_BOARD_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


def load_boards() -> dict[str, Board]:
    """All board definitions by name, in name order."""
    boards: dict[str, Board] = {}
    for folder in board_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            board = parse_board_file(path)
            boards[board.name] = board
    return dict(sorted(boards.items()))


def get_board(name: str) -> Board:
    if name.startswith(ZEPHYR_PREFIX):
        return zephyr_board(name[len(ZEPHYR_PREFIX) :])
    boards = load_boards()
    if name not in boards:
        known = ", ".join(boards) or "(none)"
        close = difflib.get_close_matches(name, list(boards), n=3, cutoff=0.5)
        guess = f"did you mean {' or '.join(close)}? " if close else ""
        raise BoardError(
            f"unknown board '{name}'",
            hint=f"{guess}known boards: {known} (list them with `microdeploy boards`)",
        )
    return boards[name]
