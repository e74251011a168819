"""End to end as a user runs it: init -> build -> flash -> run/monitor, on the native target and
on the emulated Cortex-M4 (QEMU mps2-an386), through the `microdeploy` command itself. Outputs
must equal TFLM's bit for bit; SysTick timings under `-icount shift=0` must repeat exactly."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import CliResult, run_cli

from microdeploy import reference
from microdeploy.build import build_project
from microdeploy.device.state import load_state, pid_alive
from microdeploy.project.generate import init_project

pytestmark = pytest.mark.slow


def _json_lines(result: CliResult) -> list[dict]:
    assert result.code == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _assert_one_line_error(result: CliResult, text: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
    assert "hint: " in result.stderr


@pytest.fixture(scope="module")
def person_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from microdeploy import paths

    model = paths.shared_models_dir() / "tflm" / "person_detect.tflite"
    if not model.is_file():
        pytest.skip(f"reference model {model} is absent")
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    return model


def _flashed_project(
    tmp_path_factory: pytest.TempPathFactory, board: str, model: Path
) -> Iterator[Path]:
    project = tmp_path_factory.mktemp(board) / "person"
    init_project(project, board, model=model)
    build_project(project)
    flashed = run_cli("flash", str(project))
    assert flashed.code == 0, flashed.stdout + flashed.stderr
    yield project
    run_cli("flash", str(project), "--stop")


@pytest.fixture(scope="module")
def native_project(tmp_path_factory: pytest.TempPathFactory, person_model: Path) -> Iterator[Path]:
    yield from _flashed_project(tmp_path_factory, "native", person_model)


@pytest.fixture(scope="module")
def qemu_project(tmp_path_factory: pytest.TempPathFactory, person_model: Path) -> Iterator[Path]:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    yield from _flashed_project(tmp_path_factory, "mps2-an386", person_model)


def _images(person_model: Path) -> list[Path]:
    images = person_model.parent.parent / "images"
    return [images / "person.bmp", images / "no_person.bmp"]


def _check_run_matches_tflm(project: Path, person_model: Path) -> list[dict]:
    inputs = [
        *_images(person_model),
        person_model.parent.parent / "inputs" / "person_96x96x1_int8.npy",
    ]
    args = ["run", str(project), "--json"]
    for path in inputs:
        args += ["--input", str(path)]
    rows = _json_lines(run_cli(*args, timeout=300))
    assert len(rows) == len(inputs)
    model = person_model.read_bytes()
    for row, path in zip(rows, inputs, strict=True):
        assert row["input"] == str(path)
        assert row["match"] is True
        assert row["output"] == row["reference"]
        # The reference in the JSON is TFLM's own answer, recomputed here from the same file.
        from microdeploy.device.inputs import load_input

        tensor = load_input(path, "int8", (1, 96, 96, 1))
        assert row["reference"] == [o.tolist() for o in reference.tflm_run(model, [tensor])]
    # TFLM's own person-detection pictures: person, then no person (class 1 = person).
    assert [_top_class(row["output"]) for row in rows[:2]] == [1, 0]
    for row in rows:  # the device's arena report rides along with every result
        assert 0 < row["arena_used"] <= row["arena_size"]
    return rows


def _top_class(output: list) -> int:
    scores = np.asarray(output[0]).reshape(-1)
    return int(np.argmax(scores))


def test_native_flash_records_the_device(native_project: Path) -> None:
    state = load_state(native_project)
    assert state is not None and state.kind == "native" and state.port.startswith("/dev/pts/")
    assert state.pid is not None and pid_alive(state.pid)


def test_native_run_matches_tflm(native_project: Path, person_model: Path) -> None:
    rows = _check_run_matches_tflm(native_project, person_model)
    assert all(row["clock"] == "steady_clock" and row["us"] > 0 for row in rows)


def test_native_run_reports_the_device_arena(native_project: Path, person_model: Path) -> None:
    result = run_cli("run", str(native_project), "--input", str(_images(person_model)[0]))
    assert result.code == 0, result.stderr
    used, size = re.search(r"arena ([\d,]+) of ([\d,]+) bytes used", result.stdout).groups()
    assert 0 < int(used.replace(",", "")) <= int(size.replace(",", ""))
    assert "match" in result.stdout


def test_native_monitor_streams_results_as_json(native_project: Path) -> None:
    rows = _json_lines(
        run_cli(
            "monitor",
            str(native_project),
            "--json",
            "--count",
            "3",
            "--interval",
            "50",
            "--timeout",
            "30",
            timeout=120,
        )
    )
    kinds = [row["record"] for row in rows]
    assert "info" in kinds and kinds.count("time") >= 3
    info = next(row for row in rows if row["record"] == "info")
    assert info["status"] == "ok" and 0 < info["arena_used"] <= info["arena_size"]
    times = [row for row in rows if row["record"] == "time"]
    assert all(row["clock"] == "steady_clock" and row["ticks"] >= 0 for row in times)
    assert [row for row in rows if row["record"] == "event"] == []


def test_native_run_profile_lists_every_op(native_project: Path, person_model: Path) -> None:
    image = _images(person_model)[0]
    (row,) = _json_lines(
        run_cli("run", str(native_project), "--input", str(image), "--json", "--profile")
    )
    assert [p["op"] for p in row["profile"]] == list(range(31))
    assert row["profile"][0]["name"] == "DEPTHWISE_CONV_2D"


def test_run_with_a_bad_input_is_a_one_line_error(native_project: Path, tmp_path: Path) -> None:
    raw = tmp_path / "short.bin"
    raw.write_bytes(b"\x00" * 100)
    _assert_one_line_error(run_cli("run", str(native_project), "--input", str(raw)), "9216")
    missing = tmp_path / "missing.npy"
    _assert_one_line_error(
        run_cli("run", str(native_project), "--input", str(missing)), "does not exist"
    )
    wrong = tmp_path / "float.npy"
    np.save(wrong, np.zeros((1, 96, 96, 1), np.float32))
    _assert_one_line_error(run_cli("run", str(native_project), "--input", str(wrong)), "float32")


def test_device_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    _assert_one_line_error(
        run_cli("monitor", "--port", str(tmp_path / "ttyNONE"), "--timeout", "2"),
        "cannot open serial port",
    )
    _assert_one_line_error(
        run_cli("run", str(tmp_path), "--input", "x.npy"), "not a microdeploy project"
    )


def test_stopped_device_is_reported(tmp_path_factory: pytest.TempPathFactory) -> None:
    from microdeploy import paths

    project = tmp_path_factory.mktemp("stop") / "hello"
    init_project(project, "native", example="hello_world")
    build_project(project)
    assert run_cli("flash", str(project)).code == 0
    state = load_state(project)
    assert state is not None and state.pid is not None
    stopped = run_cli("flash", str(project), "--stop")
    assert stopped.code == 0 and "Stopped" in stopped.stdout
    assert not pid_alive(state.pid)
    example_input = paths.examples_dir() / "hello_world" / "input.bin"
    _assert_one_line_error(
        run_cli("run", str(project), "--input", str(example_input)), "no running device"
    )


@pytest.mark.qemu
def test_qemu_run_matches_tflm_with_repeatable_systick(
    qemu_project: Path, person_model: Path
) -> None:
    state = load_state(qemu_project)
    assert state is not None and state.port.startswith("socket://127.0.0.1:")
    first = _check_run_matches_tflm(qemu_project, person_model)
    assert all(row["clock"] == "systick" and row["hz"] == 25_000_000 for row in first)
    # person.bmp and person_96x96x1_int8.npy are the same tensor: same instruction count.
    assert first[0]["ticks"] == first[2]["ticks"] > 0
    second = _check_run_matches_tflm(qemu_project, person_model)
    assert [row["ticks"] for row in second] == [row["ticks"] for row in first]


@pytest.mark.qemu
def test_qemu_systick_repeats_across_emulator_restarts(
    qemu_project: Path, person_model: Path
) -> None:
    image = str(_images(person_model)[1])
    ticks = []
    for _ in range(2):
        assert run_cli("flash", str(qemu_project)).code == 0  # a fresh emulator each time
        (row,) = _json_lines(run_cli("run", str(qemu_project), "--input", image, "--json"))
        assert row["match"] is True
        ticks.append(row["ticks"])
    assert ticks[0] == ticks[1] > 0


@pytest.mark.qemu
def test_qemu_monitor_reports_banner_and_timings(qemu_project: Path) -> None:
    rows = _json_lines(
        run_cli(
            "monitor",
            str(qemu_project),
            "--json",
            "--count",
            "2",
            "--interval",
            "10",
            "--timeout",
            "60",
            timeout=180,
        )
    )
    info = next(row for row in rows if row["record"] == "info")
    assert info["board"] == "mps2-an386" and info["clock"] == "systick"
    times = [row for row in rows if row["record"] == "time"]
    assert len(times) >= 2 and len({row["ticks"] for row in times}) == 1  # same input, same count


def test_native_repeated_inferences_on_one_input_stay_exact(
    native_project: Path, person_model: Path
) -> None:
    """The arena reuses the input tensor's bytes for later activations; the generated
    MD_INPUT_BYTES staging copy must put the received input back before every inference."""
    from microdeploy.device.inputs import load_input
    from microdeploy.protocol.session import Device

    state = load_state(native_project)
    assert state is not None
    tensor = load_input(_images(person_model)[0], "int8", (1, 96, 96, 1))
    expected = reference.tflm_run(person_model.read_bytes(), [tensor])[0]
    with Device.open(state.port) as device:
        device.info()  # the boot record went to an earlier session
        device.load_input(0, tensor.tobytes())
        for _ in range(3):
            outputs = device.run(1).outputs
            np.testing.assert_array_equal(outputs[0].reshape(expected.shape), expected)
