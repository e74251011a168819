"""Every way a user's input or environment can be wrong gives one error line, a hint and a
non-zero exit, never a traceback, and leaves the user's files as they were.

The CLI runs as a separate process (tests/cli_helpers.run_cli). Missing tools are simulated by
PATH manipulation (PlatformIO, which runs as `python -m platformio`, by a module on PYTHONPATH
that fails to import); devices by ptys and local sockets.
"""

from __future__ import annotations

import hashlib
import os
import pty
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import CliResult, run_cli

from microdeploy import paths
from microdeploy.model.writer import ModelBuilder

HELLO = paths.repo_root() / "example_projects" / "hello_world"


def assert_clean_error(result: CliResult, *needles: str, max_lines: int = 2) -> list[str]:
    """Non-zero exit, `error: ...` then `hint: ...`, the needles in them, no traceback."""
    assert result.code != 0, f"exit 0:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert errors, f"no error line:\n{result.stderr}"
    tail = lines[errors[-1] :]
    assert len(tail) <= max_lines, f"more than an error and a hint:\n{result.stderr}"
    assert len(tail) == 2 and tail[1].startswith("hint:"), f"no hint:\n{result.stderr}"
    text = " ".join(tail)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{result.stderr}"
    return tail


def tree_hashes(folder: Path, skip: tuple[str, ...] = (".pio",)) -> dict[str, str]:
    """sha256 of every file under folder (build output excluded), by relative path."""
    if not folder.exists():
        return {}
    hashes = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] not in skip:
            hashes[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _init(tmp_path: Path, board: str = "native", name: str = "proj") -> Path:
    project = tmp_path / name
    result = run_cli("init", str(project), "--board", board, "--example", "hello_world")
    assert result.code == 0, result.stderr
    return project


def _edit_user_files(project: Path) -> None:
    main = project / "src" / "main.cpp"
    main.write_text(main.read_text() + "\n// my own change\n")
    user_ini = project / "platformio_user.ini"
    user_ini.write_text(user_ini.read_text() + "\n; my setting\n")


# ---- model and board -----------------------------------------------------------------------


def test_missing_model_file_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path / "p"), "--board", "native", "--model", "nope.tflite")
    assert_clean_error(result, "nope.tflite", "does not exist")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: data[: len(data) // 2],  # truncated download
        lambda data: b"<html>404 not found</html>",  # a web page saved as .tflite
        lambda data: data[:8] + bytes(b ^ 0xFF for b in data[8:64]) + data[64:],  # bit rot
    ],
    ids=["truncated", "html", "flipped-header"],
)
def test_corrupt_model_leaves_the_project_untouched(tmp_path: Path, corrupt) -> None:
    project = _init(tmp_path)
    _edit_user_files(project)
    before = tree_hashes(project)
    model = tmp_path / "broken.tflite"
    model.write_bytes(corrupt((HELLO / "model.tflite").read_bytes()))
    result = run_cli("init", str(project), "--board", "native", "--model", str(model))
    assert_clean_error(result, "broken.tflite")
    assert tree_hashes(project) == before


def test_inspect_of_a_directory_and_of_an_empty_file(tmp_path: Path) -> None:
    assert_clean_error(run_cli("inspect", str(tmp_path)), "is a directory")
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    assert_clean_error(run_cli("inspect", str(empty)), "empty.tflite")


def test_unknown_board_suggests_the_closest_names(tmp_path: Path) -> None:
    result = run_cli(
        "init", str(tmp_path / "p"), "--board", "mps2-an38", "--example", "hello_world"
    )
    assert_clean_error(result, "unknown board 'mps2-an38'", "did you mean mps2-an386")
    assert not (tmp_path / "p").exists()
    result = run_cli("inspect", str(HELLO / "model.tflite"), "--board", "nativ")
    assert_clean_error(result, "unknown board 'nativ'", "did you mean native")


def test_unsupported_op_is_named_with_its_index(tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 5], "int8", scale=0.5)
    y = b.add_tensor([1, 5], "int8", scale=0.5)
    b.add_operator("ADD", [x, x], [y])
    z = b.add_tensor([1, 5], "int8", scale=0.5)
    b.add_operator("GELU", [y], [z])
    b.set_io([x], [z])
    model = tmp_path / "gelu.tflite"
    model.write_bytes(b.build())
    result = run_cli("init", str(tmp_path / "p"), "--board", "native", "--model", str(model))
    assert_clean_error(result, "op 1 (GELU)", "supported ops")
    assert not (tmp_path / "p").exists()


def test_model_the_runtime_refuses_is_named_at_init(tmp_path: Path) -> None:
    """A well-formed flatbuffer whose FULLY_CONNECTED output disagrees with its weights: the
    kernel's own check is reported by init, not at the device's boot."""
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "int8", scale=0.5)
    w = b.add_tensor([4, 8], "int8", data=np.ones((4, 8), np.int8), scale=0.1)
    y = b.add_tensor([1, 5], "int8", scale=0.5)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    b.set_io([x], [y])
    model = tmp_path / "fc.tflite"
    model.write_bytes(b.build())
    result = run_cli("init", str(tmp_path / "p"), "--board", "native", "--model", str(model))
    assert_clean_error(result, "the runtime refuses this model", "op 0 FULLY_CONNECTED")
    assert not (tmp_path / "p").exists()


def _big_model(path: Path, weight_bytes: int) -> Path:
    rows = weight_bytes // 400
    b = ModelBuilder()
    x = b.add_tensor([1, 400], "int8", scale=0.5)
    w = b.add_tensor([rows, 400], "int8", data=np.ones((rows, 400), np.int8), scale=0.01)
    y = b.add_tensor([1, rows], "int8", scale=0.5)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    b.set_io([x], [y])
    path.write_bytes(b.build())
    return path


@pytest.mark.slow
def test_model_too_large_for_the_board(tmp_path: Path) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    model = _big_model(tmp_path / "big.tflite", 1200 * 1024)  # the board has 1 MB of flash
    result = run_cli("inspect", str(model), "--board", "mps2-an386", "--no-runtime", "--json")
    assert result.code == 0 and '"fits": false' in result.stdout
    project = tmp_path / "p"
    assert run_cli("init", str(project), "--board", "mps2-an386", "--model", str(model)).code == 0
    _edit_user_files(project)
    before = tree_hashes(project)
    result = run_cli("build", str(project))
    assert_clean_error(result, "does not fit the flash budget", "mps2-an386", "smaller model")
    assert tree_hashes(project) == before


# ---- tools missing --------------------------------------------------------------------------


def _path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH folder holding links to the tools these tests may need, minus `missing`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    wanted = ["g++", "gcc", "cc", "c++", "ld", "as", "ar", "size", "arm-none-eabi-gcc",
              "arm-none-eabi-g++", "arm-none-eabi-size", "qemu-system-arm", "sh", "bash",
              "uname", "ps"]  # fmt: skip
    for tool in wanted:
        found = shutil.which(tool)
        if found and tool not in missing and not (folder / tool).exists():
            (folder / tool).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize(
    ("board", "tool"), [("native", "g++"), ("mps2-an386", "arm-none-eabi-gcc")]
)
def test_missing_compiler_is_named_with_the_install_command(
    tmp_path: Path, board: str, tool: str
) -> None:
    project = _init(tmp_path, board)
    _edit_user_files(project)
    before = tree_hashes(project)
    result = run_cli("build", str(project), env={"PATH": _path_without(tmp_path, tool)})
    assert_clean_error(result, tool, "install")
    assert tree_hashes(project) == before


def test_missing_platformio_is_one_line(tmp_path: Path) -> None:
    project = _init(tmp_path)
    _edit_user_files(project)
    before = tree_hashes(project)
    # PlatformIO runs as `python -m platformio` from our own environment: hide the package from
    # that Python (None in sys.modules makes it unimportable and unfindable).
    fake = tmp_path / "nopio"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text("import sys\nsys.modules['platformio'] = None\n")
    env = {"PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")])}
    result = run_cli("build", str(project), env=env)
    assert_clean_error(result, "PlatformIO is not installed", "pip install platformio")
    assert tree_hashes(project) == before


def test_missing_qemu_is_named(tmp_path: Path) -> None:
    project = _init(tmp_path, "mps2-an386")
    # flash only needs a firmware file to hand to QEMU; the missing emulator is found first.
    firmware = project / ".pio" / "build" / "mps2-an386" / "firmware.elf"
    firmware.parent.mkdir(parents=True)
    firmware.write_bytes(b"\x7fELF not really")
    before = tree_hashes(project)
    result = run_cli(
        "flash", str(project), env={"PATH": _path_without(tmp_path, "qemu-system-arm")}
    )
    assert_clean_error(result, "qemu-system-arm", "apt-get install")
    assert tree_hashes(project) == before


def test_build_failure_shows_the_compilers_own_line(tmp_path: Path) -> None:
    project = _init(tmp_path)
    main = project / "src" / "main.cpp"
    main.write_text(main.read_text() + "\nint broken() { return undeclared_thing; }\n")
    before = tree_hashes(project)
    result = run_cli("build", str(project))
    assert result.code != 0 and "Traceback" not in result.stderr + result.stdout
    assert "undeclared_thing" in result.stderr + result.stdout
    assert any("main.cpp" in line and "error" in line for line in result.stderr.splitlines())
    assert tree_hashes(project) == before


# ---- devices and ports ----------------------------------------------------------------------


def _run_args(project: Path, port: str, *extra: str) -> list[str]:
    return ["run", str(project), "--port", port, "-i", str(HELLO / "input.bin"), *extra]


def test_port_gone(tmp_path: Path) -> None:
    project = _init(tmp_path)
    before = tree_hashes(project)
    result = run_cli(*_run_args(project, str(tmp_path / "ttyACM9")))
    assert_clean_error(result, "cannot open serial port", "ttyACM9", "connected")
    result = run_cli("monitor", str(project), "--port", "socket://127.0.0.1:1", "--count", "1")
    assert_clean_error(result, "cannot open serial port", "Connection refused")
    assert tree_hashes(project) == before


@pytest.fixture
def pty_slave() -> Iterator[str]:
    master, slave = pty.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_port_busy(tmp_path: Path, pty_slave: str) -> None:
    import serial

    project = _init(tmp_path)
    before = tree_hashes(project)
    holder = serial.Serial(pty_slave, exclusive=True)  # another program has the port
    try:
        result = run_cli(*_run_args(project, pty_slave, "--timeout", "3"))
    finally:
        holder.close()
    assert_clean_error(result, "cannot open serial port", "no other program holds the port")
    assert tree_hashes(project) == before


@pytest.fixture
def noise_device() -> Iterator[str]:
    """A 'device' on a local socket that answers with what a wrong baud rate looks like:
    bytes that never form a record."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        rng = np.random.default_rng(3)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.02)
                while not stop.is_set():
                    try:  # 8N1 bits read at the wrong rate: random bytes, now and then a newline
                        conn.sendall(bytes(rng.integers(0, 0x100, 256, dtype=np.uint8)))
                        conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_wrong_baud_rate_is_suggested(tmp_path: Path, noise_device: str) -> None:
    project = _init(tmp_path)
    before = tree_hashes(project)
    result = run_cli(*_run_args(project, noise_device, "--timeout", "2", "--baud", "9600"))
    assert_clean_error(result, "only unreadable bytes arrived", "check the baud rate")
    assert tree_hashes(project) == before


# ---- init and the user's files --------------------------------------------------------------


def test_init_never_overwrites_edited_user_files_without_force(tmp_path: Path) -> None:
    project = _init(tmp_path)
    _edit_user_files(project)
    mine = {p: (project / p).read_bytes() for p in ("src/main.cpp", "platformio_user.ini")}
    (project / "src" / "helpers.cpp").write_text("int helper() { return 1; }\n")
    generated = project / "src" / "model_data.cpp"
    if not generated.exists():  # the model array may live in a header instead
        generated = next((project / "src").glob("model_data.*"))
    generated.write_text("// clobbered\n")
    result = run_cli("init", str(project), "--board", "native", "--example", "hello_world")
    assert result.code == 0, result.stderr
    for rel, data in mine.items():
        assert (project / rel).read_bytes() == data, f"init rewrote {rel}"
    assert (project / "src" / "helpers.cpp").read_text() == "int helper() { return 1; }\n"
    assert generated.read_text() != "// clobbered\n", "init did not refresh a generated file"
    result = run_cli(
        "init", str(project), "--board", "native", "--example", "hello_world", "--force"
    )
    assert result.code == 0, result.stderr
    assert (project / "src" / "main.cpp").read_bytes() != mine["src/main.cpp"]


def test_init_refuses_a_folder_of_someone_elses_files(tmp_path: Path) -> None:
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("\\chapter{Intro}\n")
    before = tree_hashes(folder)
    result = run_cli("init", str(folder), "--board", "native", "--example", "hello_world")
    assert_clean_error(result, "--force")
    assert tree_hashes(folder) == before


@pytest.mark.parametrize(
    "args, expected",
    [
        (("build",), "Missing"),
        (("inspect", "--no-such-option"), "No such option"),
        (("no-such-command",), "No such command"),
    ],
)
def test_usage_errors_are_one_message_not_a_traceback(args: tuple[str, ...], expected: str) -> None:
    # typer >= 0.20 raises its vendored click's exceptions; both kinds must end as usage errors.
    result = run_cli(*args)
    assert result.code == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
