"""Soak: thousands of inferences streamed from the emulated Cortex-M4 (QEMU mps2-an386, the
hello_world example) through a proxy that injects faults at random into the device -> host
byte stream: flipped bits, dropped spans, inserted noise (with stray newlines and `@md`
fragments), whole chunks lost.

The proxy parses the clean stream too, so the test knows every record the device sent and
which ones a fault touched. The host reads with the product's own parser
(microdeploy.protocol.codec.RecordParser) and must account for every record by its sequence
number: received intact + reported lost == sent; each record received is byte-identical to
the one the device sent with that number; every record no fault touched arrives. The counts are
printed (pytest -s). About 10 s of QEMU time for 10,000 inferences.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cli_helpers import run_cli

from microdeploy.build import build_project
from microdeploy.protocol.codec import Record, RecordParser, StreamEvent, encode_record

pytestmark = [pytest.mark.slow, pytest.mark.qemu]

BATCHES = 10
PER_BATCH = 1000
FAULTS_PER_KB = 0.6  # about one fault per 20 records


@pytest.fixture(scope="module")
def device_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    project = tmp_path_factory.mktemp("soak") / "hello"
    result = run_cli("init", str(project), "--board", "mps2-an386", "--example", "hello_world")
    assert result.code == 0, result.stderr
    build_project(project)
    flashed = run_cli("flash", str(project), "--json")
    assert flashed.code == 0, flashed.stderr
    try:
        yield json.loads(flashed.stdout)["port"]
    finally:
        run_cli("flash", str(project), "--stop")


@dataclass
class CleanStream:
    """What the device really sent: every record by sequence number, and which were touched."""

    parser: RecordParser = field(default_factory=RecordParser)
    records: dict[int, Record] = field(default_factory=dict)
    lines: list[tuple[int, int]] = field(default_factory=list)  # [start, newline] per line
    line_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # seq -> its line
    touched_ranges: list[tuple[int, int]] = field(default_factory=list)
    offset: int = 0
    line_start: int = 0
    dones: int = 0
    done_seen: threading.Condition = field(default_factory=threading.Condition)

    def add(self, data: bytes) -> None:
        for i, byte in enumerate(data):
            if byte == 0x0A:
                self._line_end(self.offset + i)
        for item in self.parser.feed(data):
            assert isinstance(item, Record), f"the device itself sent a bad stream: {item}"
            self.records[item.seq] = item
            if item.type == "done":
                with self.done_seen:
                    self.dones += 1
                    self.done_seen.notify_all()
        self.offset += len(data)

    def _line_end(self, newline: int) -> None:
        self.lines.append((self.line_start, newline))
        self.line_start = newline + 1

    def touched(self, seq: int) -> bool:
        start, end = self.line_ranges[seq]
        return any(a <= end and start < b for a, b in self.touched_ranges)

    def assign_lines(self) -> None:
        """Records and lines come in the same order (one record per line from the device)."""
        seqs = sorted(self.records)
        assert len(seqs) == len(self.lines), "one line per record"
        self.line_ranges = dict(zip(seqs, self.lines, strict=True))


class FaultyProxy:
    """host <-> proxy <-> device; faults only on the way to the host."""

    def __init__(self, device_url: str, seed: int) -> None:
        host, port = device_url.removeprefix("socket://").rsplit(":", 1)
        self.device_addr = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.rng = random.Random(seed)
        self.clean = CleanStream()
        self.faults: dict[str, int] = {}
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self.server.accept()
        device = socket.create_connection(self.device_addr)
        for target in (lambda: self._up(client, device), lambda: self._down(device, client)):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _up(self, client: socket.socket, device: socket.socket) -> None:
        while data := client.recv(4096):
            device.sendall(data)

    def _down(self, device: socket.socket, client: socket.socket) -> None:
        while data := device.recv(4096):
            start = self.clean.offset
            self.clean.add(data)
            client.sendall(self._damage(data, start))

    def _damage(self, data: bytes, start: int) -> bytes:
        out = bytearray(data)
        expected = len(data) / 1024 * FAULTS_PER_KB
        count = int(expected) + (self.rng.random() < expected - int(expected))
        # Faults from the end backwards, so earlier positions keep their meaning.
        for pos in sorted((self.rng.randrange(len(data)) for _ in range(count)), reverse=True):
            kind = self.rng.choice(["flip", "flip", "drop", "noise", "noise", "cut"])
            self.faults[kind] = self.faults.get(kind, 0) + 1
            if kind == "flip":
                out[pos] ^= 1 << self.rng.randrange(8)
                self.clean.touched_ranges.append((start + pos, start + pos + 1))
            elif kind == "drop":
                n = self.rng.randrange(1, 60)
                del out[pos : pos + n]
                self.clean.touched_ranges.append((start + pos, start + pos + n))
            elif kind == "noise":
                noise = self.rng.choice([b"\x00\xff\x13", b"@md", b"\n", b"@md1 9", b"*0000"])
                noise += bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(8)))
                out[pos:pos] = noise
                self.clean.touched_ranges.append((start + pos - 1, start + pos + 1))
            else:  # the rest of this chunk never arrives
                del out[pos:]
                self.clean.touched_ranges.append((start + pos, start + len(data)))
        return bytes(out)


def _read_until_quiet(port, parser: RecordParser, items: list, quiet: float = 0.5) -> None:
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        data = port.read(65536)
        if data:
            last = time.monotonic()
            items.extend(parser.feed(data))


def test_soak_every_record_accounted_for(device_url: str) -> None:
    import serial

    proxy = FaultyProxy(device_url, seed=2026)
    port = serial.serial_for_url(proxy.url, timeout=0.05)
    parser = RecordParser()
    items: list[Record | StreamEvent] = []
    started = time.monotonic()
    try:
        _read_until_quiet(port, parser, items)  # the boot block (after a restart: nothing)
        for batch in range(BATCHES):
            port.write(encode_record(batch, "run", {"n": PER_BATCH}))
            with proxy.clean.done_seen:
                assert proxy.clean.done_seen.wait_for(
                    lambda b=batch: proxy.clean.dones > b, timeout=120
                ), f"batch {batch}: the device did not finish"
            _read_until_quiet(port, parser, items)
    finally:
        port.close()
    items.extend(parser.flush())
    seconds = time.monotonic() - started
    clean = proxy.clean
    clean.assign_lines()

    received = [item for item in items if isinstance(item, Record)]
    events = [item for item in items if isinstance(item, StreamEvent)]
    kinds = {kind: sum(e.kind == kind for e in events) for kind in sorted({e.kind for e in events})}
    seqs = [r.seq for r in received]
    first, last = min(clean.records), max(clean.records)
    lost_reported = sum(e.count for e in events if e.kind == "lost")
    inferences = sum(r.type == "res" for r in clean.records.values())
    touched = [s for s in clean.records if clean.touched(s)]
    print(
        f"\nsoak: {inferences} inferences in {seconds:.1f} s, device sent {len(clean.records)} "
        f"records (#{first}..#{last}); faults injected {proxy.faults}; records touched by a "
        f"fault {len(touched)}; received intact {len(received)}; reported lost "
        f"{lost_reported}; stream events {kinds}"
    )

    assert inferences == BATCHES * PER_BATCH
    assert sum(proxy.faults.values()) > 200, "too few faults for a soak"
    # Nothing invented, duplicated or mis-parsed: each record is the device's own, in order.
    assert seqs == sorted(set(seqs)), "sequence numbers out of order or repeated"
    for record in received:
        assert record.raw == clean.records[record.seq].raw, f"record #{record.seq} altered"
    # Every record is accounted for: received, or counted in a `lost` report. The records cut
    # off at the very start and end (before the first / after the last received) cannot show
    # up as gaps, so the accounting runs between the first and last received.
    lo, hi = seqs[0], seqs[-1]
    assert (hi - lo + 1) == len(received) + lost_reported, (lo, hi, len(received), lost_reported)
    assert set(range(first, last + 1)) == set(clean.records)
    for seq in set(clean.records) - set(seqs):
        assert lo < seq < hi or clean.touched(seq), f"#{seq} lost at an end, untouched"
    # A record no fault touched always arrives.
    untouched_missing = sorted(set(clean.records) - set(touched) - set(seqs))
    assert not untouched_missing, f"untouched records lost: {untouched_missing[:10]}"
    # The damage was seen and reported, not silently skipped.
    assert kinds.get("corrupt", 0) + kinds.get("truncated", 0) + kinds.get("garbage", 0) > 0
