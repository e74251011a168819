"""`microdeploy monitor` against a scripted device on a pseudo-terminal that damages its own
stream: every fault shows up in the output, every valid result still arrives, and a port that
disappears ends the command with one error line and a hint (never a traceback or a hang)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from microdeploy.protocol.codec import Record, RecordParser, encode_record


def _boot_block(first_seq: int, head: str) -> bytes:
    fields = {"proto": 1, "runtime": "test", "board": "fake", "model": "0" * 16}
    fields.update(status="ok", arena_used=100, arena_size=200, clock="fake", hz=1000, auto=0)
    return (
        encode_record(first_seq, head, fields)
        + encode_record(
            first_seq + 1,
            "tensor",
            {"io": "in", "idx": 0, "type": "int8", "shape": "1x4", "bytes": 4},
        )
        + encode_record(first_seq + 2, "ready")
    )


def _result(seq: int, index: int) -> bytes:
    return encode_record(seq, "res", {"i": index, "top": "1:9,0:-9"}) + encode_record(
        seq + 1,
        "time",
        {"i": index, "ticks": 500 + index, "us": 500 + index, "clock": "fake", "hz": 1000},
    )


def _faulty_stream(seq: int) -> bytes:
    """Eight valid results with garbage, a corrupted record, a cut record and a reset."""
    out = b"\x00\xffboot noise\r\n" + _result(seq, 0)
    corrupted = bytearray(_result(seq + 2, 1))
    corrupted[12] ^= 0x01  # the `res` of inference 1: its `time` still arrives
    out += bytes(corrupted) + _result(seq + 4, 2)
    out += _result(seq + 6, 3)[:20]  # the device resets in the middle of a record
    out += _boot_block(0, "boot") + _result(3, 0) + _result(5, 1) + _result(7, 2)
    return out


class FakeDevice:
    """Answers `info` and `auto` like the firmware, then plays a damaged stream."""

    def __init__(self, *, vanish_after_stream: bool = False) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.vanish = vanish_after_stream
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        parser = RecordParser()
        seq = 10
        while not self.stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for item in parser.feed(data):
                if not isinstance(item, Record):
                    continue
                if item.type == "info":
                    os.write(self.master, _boot_block(seq, "info"))
                    seq += 3
                elif item.type == "auto":
                    os.write(self.master, encode_record(seq, "ok", {"cmd": "auto"}))
                    seq += 1
                    if item.int("ms", 0):
                        os.write(self.master, _faulty_stream(seq))
                        if self.vanish:
                            time.sleep(0.3)
                            self.close()
                            return

    def close(self) -> None:
        self.stop.set()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def fake_device() -> Iterator[FakeDevice]:
    device = FakeDevice()
    yield device
    device.close()


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "microdeploy.cli.main", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_monitor_reports_each_fault_and_keeps_every_valid_result(
    fake_device: FakeDevice,
) -> None:
    proc = _monitor("--port", fake_device.path, "--json", "--count", "6", "--timeout", "10")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    events = [row["kind"] for row in rows if row["record"] == "event"]
    assert {"garbage", "corrupt", "truncated", "reset"} <= set(events)
    times = [(row["i"], row["ticks"]) for row in rows if row["record"] == "time"]
    # Inferences 0-2 before the reset, 0-2 after: the corrupted `res` lost no timing.
    assert times == [(0, 500), (1, 501), (2, 502), (0, 500), (1, 501), (2, 502)]
    boots = [row for row in rows if row["record"] == "boot"]
    assert len(boots) == 1 and boots[0]["seq"] == 0
    # Events come in stream order: the reset is reported right before the boot record.
    order = [row.get("kind", row["record"]) for row in rows]
    assert order.index("reset") + 1 == order.index("boot")
    assert order.index("ok") < order.index("garbage") < order.index("corrupt")


def test_monitor_exits_with_one_error_line_when_the_port_disappears() -> None:
    device = FakeDevice(vanish_after_stream=True)
    try:
        proc = _monitor("--port", device.path, "--timeout", "10")
    finally:
        device.close()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "closed" in errors[0]
    assert any(line.startswith("hint: ") for line in proc.stderr.splitlines())
    assert "monitor: " in proc.stderr  # the summary still comes


def test_monitor_times_out_on_a_silent_device() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        started = time.monotonic()
        proc = _monitor("--port", os.ttyname(slave), "--timeout", "1")
        assert time.monotonic() - started < 30
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error: no answer" in proc.stderr and "hint: " in proc.stderr
