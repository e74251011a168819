"""MLPerf Tiny mode end to end: `init --app mlperf-tiny --benchmark B` firmware for the four
reference models of ../shared/models/mlperf_tiny, built once per board (native on a pty, the
emulated Cortex-M4 in QEMU on a socket) and driven with the device-under-test protocol.

Each reply line is checked against its exact text or the official runner's pattern (the line
ends too), the scores against TFLM's interpreter on the same input tensor (dequantized and
formatted as the reference submissions do), and every malformed command against the error the
reference device gives, followed by a command that must still be served.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy import reference
from microdeploy.build import build_project
from microdeploy.device.flash import flash, stop_device
from microdeploy.mlperf import benchmarks
from microdeploy.mlperf.client import LAP_RE, NAME_RE, PROFILE_RE, RESULTS_RE, DutClient, Reply
from microdeploy.model.reader import Model, read_model
from microdeploy.project.generate import init_project

MODELS = {
    "vww": "mlperf_tiny/vww_96_int8.tflite",
    "kws": "mlperf_tiny/kws_ref_model.tflite",
    "ic": "mlperf_tiny/pretrainedResnet_quant.tflite",
    "ad": "mlperf_tiny/ad01_int8.tflite",
}
FIRMWARE_VERSION = "ULPMark for tinyML Firmware V0.0.1"
TARGETS = [
    pytest.param(("native", bench), id=f"native-{bench}", marks=pytest.mark.slow)
    for bench in MODELS
] + [
    pytest.param(
        ("mps2-an386", bench), id=f"mps2-{bench}", marks=[pytest.mark.slow, pytest.mark.qemu]
    )
    for bench in MODELS
]


@dataclass
class Dut:
    board: str
    bench: benchmarks.Benchmark
    model: Model
    model_bytes: bytes
    project: Path
    client: DutClient
    boot: Reply


def _payloads(bench: benchmarks.Benchmark, model: Model, count: int, seed: int) -> list[bytes]:
    """Random inputs as the harness sends them (AD: float features across the input's range)."""
    rng = np.random.default_rng(seed)
    size = benchmarks.payload_bytes(bench, model)
    if bench.payload_dtype == "float32":
        return [rng.uniform(-70.0, 20.0, size // 4).astype("<f4").tobytes() for _ in range(count)]
    return [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for _ in range(count)]


def _check_lines(reply: Reply, patterns: list[str | re.Pattern[str]]) -> None:
    """Every line `\\r\\n`-terminated, and each equal to its text or matching its pattern."""
    assert reply.raw == "".join(f"{line}\r\n" for line in reply.lines).encode(), reply.raw
    assert len(reply.lines) == len(patterns), reply.lines
    for line, want in zip(reply.lines, patterns, strict=True):
        if isinstance(want, re.Pattern):
            assert want.match(line), (line, want.pattern)
        else:
            assert line == want


@pytest.fixture(scope="module", params=TARGETS)
def dut(request, shared_models: Path, tmp_path_factory) -> Iterator[Dut]:
    board, key = request.param
    if board != "native" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    model_path = shared_models / MODELS[key]
    project = tmp_path_factory.mktemp(f"mlperf-{board}-{key}")
    init_project(project, board, model=model_path, app="mlperf-tiny", benchmark=key, force=True)
    build_project(project)
    started = flash(project)
    try:
        client = DutClient.open(started.state.port)
        # QEMU starts the guest when the socket connects, so its boot lines come now; the
        # native program booted before pyserial opened (and flushed) the pty: see test_boot.
        boot = client.read_until_ready(20.0, "boot") if board != "native" else None
        bench = benchmarks.get_benchmark(key)
        yield Dut(board, bench, read_model(model_path), model_path.read_bytes(), project, client,
                  boot)  # fmt: skip
        client.close()
    finally:
        stop_device(project)


def _boot_patterns() -> list[str | re.Pattern[str]]:
    return ["m-timestamp-mode-performance", LAP_RE, "m-init-done", "m-ready"]


def test_boot_lines(dut: Dut) -> None:
    if dut.boot is None:  # the native program: read its boot from a pipe instead
        import subprocess

        program = dut.project / ".pio" / "build" / "native" / "program"
        proc = subprocess.run([str(program)], input=b"", capture_output=True, timeout=60)
        text = proc.stdout
        lines = tuple(text.decode().split("\r\n")[:-1])
        boot = Reply("boot", lines, text)
    else:
        boot = dut.boot
    _check_lines(boot, _boot_patterns())


def test_name_profile_timestamp_help(dut: Dut) -> None:
    reply = dut.client.command("name")
    _check_lines(reply, ["m-name-dut-[microdeploy]", "m-ready"])
    assert NAME_RE.match(reply.lines[0])
    reply = dut.client.command("profile")
    _check_lines(
        reply,
        [f"m-profile-[{FIRMWARE_VERSION}]", f"m-model-[{dut.bench.model_version}]", "m-ready"],
    )
    assert all(PROFILE_RE.match(line) for line in reply.lines[:2])
    first = dut.client.command("timestamp")
    second = dut.client.command("timestamp")
    _check_lines(first, [LAP_RE, "m-ready"])
    _check_lines(second, [LAP_RE, "m-ready"])
    assert int(second.lines[0][9:]) > int(first.lines[0][9:])  # the board's free-running clock
    reply = dut.client.command("help")
    assert reply.lines[0] == FIRMWARE_VERSION and reply.lines[1] == ""
    assert "infer N [W=0]: Load input, execute N inferences after W warmup loops" in reply.lines
    assert reply.lines[-2:] == ("results      : Return the result fp32 vector", "m-ready")


def _infer_patterns(n: int, w: int) -> list[str | re.Pattern[str]]:
    return [
        f"m-warmup-start-{w}",
        "m-warmup-done",
        f"m-infer-start-{n}",
        LAP_RE,
        LAP_RE,
        "m-infer-done",
        RESULTS_RE,
        "m-ready",
    ]


def _load(dut: Dut, payload: bytes) -> None:
    reply = dut.client.command(f"db load {len(payload)}")
    _check_lines(reply, [f"m-[Expecting {len(payload)} bytes]", "m-ready"])
    chunks = range(0, len(payload), 31)
    for i in chunks:
        reply = dut.client.command(f"db {payload[i : i + 31].hex()}")
        last = i + 31 >= len(payload)
        _check_lines(reply, ["m-load-done", "m-ready"] if last else ["m-ready"])


def test_scores_equal_tflm(dut: Dut) -> None:
    """Two inputs each: infer 1 0 and results give the reference interpreter's scores."""
    for payload in _payloads(dut.bench, dut.model, 2, seed=6):
        _load(dut, payload)
        tensor = benchmarks.tensor_from_payload(dut.bench, dut.model, payload)
        expected = benchmarks.expected_results(
            dut.bench, dut.model, payload, reference.tflm_run(dut.model_bytes, [tensor])[0]
        )
        reply = dut.client.command("infer 1 0", timeout=60)
        _check_lines(reply, _infer_patterns(1, 0))
        assert reply.lines[6] == expected
        laps = [int(LAP_RE.match(line).group(1)) for line in reply.lines[3:5]]  # type: ignore[union-attr]
        assert laps[1] >= laps[0]
        results = dut.client.command("results")
        _check_lines(results, [expected, "m-ready"])


def test_repeated_inferences_keep_the_input(dut: Dut) -> None:
    """infer N W runs N+W inferences on the loaded input: the results are those of one."""
    payload = _payloads(dut.bench, dut.model, 1, seed=11)[0]
    _load(dut, payload)
    once = dut.client.command("infer 1 0", timeout=60).lines[6]
    reply = dut.client.command("infer 2 2", timeout=120)
    _check_lines(reply, _infer_patterns(2, 2))
    assert reply.lines[6] == once


def test_emulated_timing_repeats(dut: Dut) -> None:
    if dut.board == "native":
        pytest.skip("the host's clock does not repeat")
    payload = _payloads(dut.bench, dut.model, 1, seed=3)[0]
    _load(dut, payload)
    elapsed = []
    for _ in range(3):
        lines = dut.client.command("infer 1 0", timeout=60).lines
        laps = [int(LAP_RE.match(line).group(1)) for line in lines[3:5]]  # type: ignore[union-attr]
        elapsed.append(laps[1] - laps[0])
    assert len(set(elapsed)) == 1 and elapsed[0] > 0, elapsed


def test_errors_keep_the_device_serving(dut: Dut) -> None:
    capacity = benchmarks.payload_bytes(dut.bench, dut.model)
    elements = capacity // dut.bench.payload_itemsize
    cases: list[tuple[str, list[str | re.Pattern[str]]]] = [
        ("bogus", ["e-[Unknown command: bogus]", "m-ready"]),
        ("", ["e-[Unknown command: ]", "m-ready"]),
        ("x" * 100, [f"e-[Unknown command: {'x' * 80}]", "m-ready"]),  # 80-char command buffer
        ("db", ["e-[Command 'db' requires a subcommand]", "m-ready"]),
        ("db load", ["e-[Command 'db load' requires the # of bytes]", "m-ready"]),
        ("db load 0", ["e-[Command 'db load' must be >0 bytes]", "m-ready"]),
        (
            f"db load {capacity + 1}",
            [f"Supplied buffer size {capacity + 1} exceeds maximum of {capacity}", "m-ready"],
        ),
        ("db load -3", [f"Supplied buffer size -3 exceeds maximum of {capacity}", "m-ready"]),
        # No load pending after the refusal: data is dropped, nothing written past the buffer.
        ("db " + "ab" * 31, ["m-ready"]),
        ("infer 1 0", [f"Input db has 0 elemented, expected {elements}", *_infer_patterns(1, 0)]),
        ("db load 4", ["m-[Expecting 4 bytes]", "m-ready"]),
        ("db 012", ["e-[Insufficent number of hex digits]", "m-ready"]),
        ("db 01zz", ["e-[Invalid hex digit 'zz']", "m-ready"]),
        ("db 0G", ["e-[Invalid hex digit '0G']", "m-ready"]),
        ("db " + "1" * 79, ["e-[Insufficent number of hex digits]", "m-ready"]),  # cut to 80
        ("db 02030405", ["m-load-done", "m-ready"]),  # 01 from before + 3 bytes; rest ignored
        ("db print", ["m-buffer-01-02-03-04", "", "m-ready"]),
        ("infer 0", ["e-[Inference iterations must be >0]", "m-ready"]),
        ("infer -2 1", ["e-[Inference iterations must be >0]", "m-ready"]),
        ("infer 1 -1", ["e-[Inference warmup must be >=0]", "m-ready"]),
    ]
    for command, patterns in cases:
        _check_lines(dut.client.command(command, timeout=60), patterns)
        _check_lines(dut.client.command("name"), ["m-name-dut-[microdeploy]", "m-ready"])


def test_db_print_rows(dut: Dut) -> None:
    _check_lines(dut.client.command("db load 16"), ["m-[Expecting 16 bytes]", "m-ready"])
    _check_lines(dut.client.command("db " + bytes(range(16)).hex()), ["m-load-done", "m-ready"])
    _check_lines(
        dut.client.command("db print"),
        ["m-buffer-00-01-02-03-04-05-06-07", "m-buffer-08-09-0a-0b-0c-0d-0e-0f", "m-ready"],
    )


def test_cli_drives_the_device(dut: Dut, tmp_path: Path) -> None:
    """`microdeploy mlperf --port` (the running device) with a harness file and a .npy tensor."""
    import json

    payload = _payloads(dut.bench, dut.model, 1, seed=21)[0]
    raw = tmp_path / "input.bin"
    raw.write_bytes(payload)
    inputs = ["--input", str(raw)]
    if dut.bench.payload_dtype != "float32":
        tensor = benchmarks.tensor_from_payload(dut.bench, dut.model, payload)
        np.save(tmp_path / "tensor.npy", tensor)
        inputs += ["--input", str(tmp_path / "tensor.npy")]
    port = dut.client.port_name
    dut.client.close()  # QEMU's socket takes one connection at a time
    try:
        result = run_cli("mlperf", str(dut.project), "--port", port, *inputs, "-n", "2", "--json")
    finally:
        dut.client = DutClient.open(port)
        dut.client.sync()
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["profile"] == {"profile": FIRMWARE_VERSION, "model": dut.bench.model_version}
    assert len(report["runs"]) == len(inputs) // 2
    for run in report["runs"]:
        assert run["match"] is True, run
        assert run["iterations"] == 2 and run["elapsed_us"] >= 0
        assert run["scores"] == [float(x) for x in run["results_line"][11:-1].split(",")]
    if len(report["runs"]) == 2:
        assert report["runs"][0]["results_line"] == report["runs"][1]["results_line"]
