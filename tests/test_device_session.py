"""The host's Device session against the real device service (md::app::Serve) built for the
host, talking through pipes: input upload in chunks, runs, outputs compared bit for bit with
TFLM, errors, and faults injected in both directions on the way."""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths, reference
from microdeploy.errors import DeviceError
from microdeploy.protocol.session import Device


@pytest.fixture(scope="module")
def serve_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    src = paths.runtime_dir() / "src"
    sources = [
        *sorted((src / "md").glob("*.cc")),
        *sorted((src / "md" / "kernels").glob("*.cc")),
        *sorted((src / "md" / "app").glob("*.cc")),
        src / "md" / "ports" / "native" / "port.cc",
        paths.runtime_dir() / "tests" / "app" / "serve_main.cc",
    ]
    binary = tmp_path_factory.mktemp("serve") / "serve_main"
    command = ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-fno-exceptions"]
    command += ["-fno-rtti", f"-I{src}", *map(str, sources), "-o", str(binary)]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return binary


class PipePort:
    """A pyserial-like port over a child's stdin/stdout, with hooks that damage the traffic:
    `on_write(line) -> line` for host -> device, `on_line(line) -> bytes` for device -> host."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.timeout = 0.05
        self.on_write: Callable[[bytes], bytes] = lambda line: line
        self.on_line: Callable[[bytes], bytes] = lambda line: line
        self._raw = b""
        self._ready = b""

    def _pump(self, timeout: float) -> None:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        if select.select([fd], [], [], timeout)[0]:
            data = os.read(fd, 65536)
            if not data:
                import serial

                raise serial.SerialException("device closed the pipe")
            self._raw += data
            *lines, self._raw = self._raw.split(b"\n")
            self._ready += b"".join(self.on_line(line + b"\n") for line in lines)

    def read(self, size: int = 1) -> bytes:
        if not self._ready:
            self._pump(self.timeout or 0)
        data, self._ready = self._ready[:size], self._ready[size:]
        return data

    @property
    def in_waiting(self) -> int:
        self._pump(0)
        return len(self._ready)

    def write(self, data: bytes) -> int:
        self.proc.stdin.write(self.on_write(data))  # type: ignore[union-attr]
        return len(data)

    def flush(self) -> None:
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_device(serve_binary: Path) -> Iterator[Callable[..., Device]]:
    ports: list[PipePort] = []

    def start(model: Path, *args: str) -> Device:
        port = PipePort([str(serve_binary), str(model), *args])
        ports.append(port)
        device = Device(port, name="serve_main")
        device.wait_boot(timeout=10)
        return device

    yield start
    for port in ports:
        port.close()


def _need_reference() -> None:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")


def _random_inputs(device: Device, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    info = device.info()
    return [
        rng.integers(-128, 128, size=t.shape, dtype=np.int8)
        if t.dtype == "int8"
        else pytest.skip(f"test inputs for {t.dtype} not written")
        for t in info.inputs
    ]


def _send(device: Device, inputs: list[np.ndarray], timeout: float = 5.0) -> None:
    for index, array in enumerate(inputs):
        device.load_input(index, array.tobytes(), timeout=timeout)


def _assert_matches_tflm(model: Path, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    expected = reference.tflm_run(model.read_bytes(), inputs)
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.fixture
def add_model(shared_models: Path) -> Path:
    return shared_models / "tflm" / "simple_add_model.tflite"


def test_info_describes_the_model_and_the_clock(start_device, add_model: Path) -> None:
    device = start_device(add_model)
    info = device.info()
    assert info.ready and info.proto == 1 and info.board == "native"
    assert [(t.dtype, t.shape, t.nbytes) for t in info.inputs] == [
        ("int8", (1, 128, 128, 1), 16384)
    ] * 2
    assert [(t.dtype, t.shape) for t in info.outputs] == [("int8", (1, 128, 128, 1))]
    assert 0 < info.arena_used <= info.arena_size
    assert (info.clock, info.hz) == ("steady_clock", 1_000_000)
    assert device.ping() < 5


def test_inputs_sent_in_chunks_give_tflm_outputs(start_device, add_model: Path) -> None:
    _need_reference()
    device = start_device(add_model)
    inputs = _random_inputs(device, seed=1)
    _send(device, inputs)
    result = device.run(3, outputs=True)
    assert [inf.index for inf in result.inferences] == [0, 1, 2]
    assert all(inf.clock == "steady_clock" and inf.ticks >= 0 for inf in result.inferences)
    _assert_matches_tflm(add_model, inputs, result.outputs)  # staging: the 3rd run is exact too
    assert device.events == []


def test_without_staging_a_later_run_uses_the_example_input(start_device, add_model: Path) -> None:
    _need_reference()
    device = start_device(add_model, "1048576", "0", "nostaging")
    inputs = _random_inputs(device, seed=2)
    _send(device, inputs)
    _assert_matches_tflm(add_model, inputs, device.run(1).outputs)
    zeros = [np.zeros_like(a) for a in inputs]  # no example input compiled in: zeros
    _assert_matches_tflm(add_model, zeros, device.run(1).outputs)


def test_corrupted_chunk_is_sent_again(start_device, add_model: Path) -> None:
    _need_reference()
    device = start_device(add_model)
    port: PipePort = device.port  # type: ignore[assignment]
    damaged: list[bytes] = []

    def corrupt_some_chunks(line: bytes) -> bytes:
        if b" dat " in line and len(damaged) < 3 and random.Random(len(line)).random() < 0.5:
            damaged.append(line)
            return line[:30] + bytes([line[30] ^ 0x01]) + line[31:]
        return line

    port.on_write = corrupt_some_chunks
    inputs = _random_inputs(device, seed=3)
    _send(device, inputs)
    assert len(damaged) == 3
    _assert_matches_tflm(add_model, inputs, device.run(1).outputs)


def test_lost_acknowledgement_is_recovered(start_device, add_model: Path) -> None:
    _need_reference()
    device = start_device(add_model)
    port: PipePort = device.port  # type: ignore[assignment]
    state = {"acks": 0}

    def corrupt_fifth_ack(line: bytes) -> bytes:
        if b" ack " in line:
            state["acks"] += 1
            if state["acks"] == 5:
                return line.replace(b"ack", b"acc", 1)  # CRC no longer matches
        return line

    port.on_line = corrupt_fifth_ack
    inputs = _random_inputs(device, seed=4)
    _send(device, inputs, timeout=0.5)
    assert [e.kind for e in device.events] == ["corrupt", "lost"]
    _assert_matches_tflm(add_model, inputs, device.run(1).outputs)


def test_late_acknowledgement_does_not_derail_the_transfer(start_device, add_model: Path) -> None:
    _need_reference()
    device = start_device(add_model)
    port: PipePort = device.port  # type: ignore[assignment]
    state: dict[str, object] = {"acks": 0, "held": b""}

    def delay_fifth_ack(line: bytes) -> bytes:
        if b" ack " not in line:
            return line
        state["acks"] = int(state["acks"]) + 1  # type: ignore[call-overload]
        if state["acks"] == 5:
            state["held"] = line  # arrives only after the host gave up and sent the chunk again
            return b""
        held, state["held"] = state["held"], b""
        return held + line  # type: ignore[operator]

    port.on_line = delay_fifth_ack
    inputs = _random_inputs(device, seed=6)
    _send(device, inputs, timeout=0.5)
    assert device.events == []  # nothing was lost or corrupted, only late
    _assert_matches_tflm(add_model, inputs, device.run(1).outputs)


def test_garbage_from_the_device_side_is_reported_and_skipped(
    start_device, add_model: Path
) -> None:
    _need_reference()
    device = start_device(add_model)
    port: PipePort = device.port  # type: ignore[assignment]
    port.on_line = lambda line: b"\x00\xffnoise\r\n" + line if b" ack " in line else line
    inputs = _random_inputs(device, seed=5)
    _send(device, inputs)
    _assert_matches_tflm(add_model, inputs, device.run(1).outputs)
    assert device.events and {e.kind for e in device.events} == {"garbage"}


def test_wrong_input_size_is_a_clear_error(start_device, add_model: Path) -> None:
    device = start_device(add_model)
    with pytest.raises(DeviceError) as info:
        device.load_input(0, b"\x01" * 100)
    assert "BadInput" in info.value.message and "expects 16384 bytes" in info.value.message
    assert info.value.hint
    assert device.ping() < 5  # the device still answers


def test_arena_too_small_is_reported_at_boot(start_device, add_model: Path) -> None:
    device = start_device(add_model, "1000")
    info = device.info()
    assert info.status == "ArenaTooSmall" and not info.ready
    assert info.arena_need is not None and info.arena_need > 1000
    assert "arena too small" in info.error
    with pytest.raises(DeviceError, match="NotReady"):
        device.run(1)


def test_profile_lists_every_op(start_device, shared_models: Path) -> None:
    model = shared_models / "tflm" / "hello_world_int8.tflite"
    device = start_device(model)
    result = device.run(2, outputs=True, profile=True)
    assert [p.op for p in result.profile] == [0, 1, 2]
    assert {p.name for p in result.profile} == {"FULLY_CONNECTED"}
    assert all(p.ticks >= 0 for p in result.profile)


def test_auto_runs_report_results_until_turned_off(start_device, shared_models: Path) -> None:
    device = start_device(shared_models / "tflm" / "hello_world_int8.tflite")
    device.set_auto(20)
    seen = 0
    for record in device.records(timeout=1.0):
        seen += record.type == "time"
        if seen == 3:
            break
    assert seen == 3
    device.set_auto(0)
    device.ping()
    assert [r for r in device.records(timeout=0.3) if r.type == "time"] == []


def test_device_closing_the_line_ends_the_session(start_device, shared_models: Path) -> None:
    device = start_device(shared_models / "tflm" / "hello_world_int8.tflite")
    device.send("exit", code=0)
    device.wait_for({"ok"}, 5, "exit")
    with pytest.raises(DeviceError, match="closed"):
        device.next_record(2)


def test_missing_op_is_reported_at_boot(start_device, tmp_path: Path) -> None:
    from microdeploy.model.writer import ModelBuilder

    builder = ModelBuilder()
    x = builder.add_tensor([1, 4], "float32")
    y = builder.add_tensor([1, 4], "float32")
    builder.add_operator("SQRT", [x], [y])  # no kernel for it in the runtime
    builder.set_io([x], [y])
    model = tmp_path / "sqrt.tflite"
    model.write_bytes(builder.build())
    device = start_device(model)
    info = device.info()
    assert info.status == "UnsupportedOp" and not info.ready
    assert "SQRT" in info.error
    with pytest.raises(DeviceError, match="NotReady: op 0 \\(SQRT\\)"):
        device.run(1)
