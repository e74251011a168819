"""The host side of the serial protocol: encoding, parsing, and what happens to a stream with
faults in it (garbage, truncated and corrupted records, lost records, a device reset, a port
that disappears or goes silent). Every fault must be reported, and every valid record around it
must still come through, in order."""

from __future__ import annotations

import random
import re

import pytest
import serial

from microdeploy.errors import DeviceError
from microdeploy.protocol.codec import (
    MAX_RECORD_BYTES,
    Record,
    RecordParser,
    StreamEvent,
    crc32,
    encode_record,
)
from microdeploy.protocol.monitor import MonitorState, event_as_json, record_as_json
from microdeploy.protocol.session import Device, DeviceTimeout, parse_top


def device_records(first_seq: int, count: int) -> list[bytes]:
    """Records as a device would send them: res/time pairs with consecutive sequence numbers."""
    lines = []
    for k in range(count):
        seq, index = first_seq + k, (first_seq + k) // 2
        if k % 2 == 0:
            lines.append(encode_record(seq, "res", {"i": index, "top": f"1:{index},0:-5"}))
        else:
            lines.append(encode_record(seq, "time", {"i": index, "ticks": 1000 + seq, "us": 40}))
    return lines


def parse_in_pieces(stream: bytes, seed: int) -> list[Record | StreamEvent]:
    """Feeds the stream in random-sized pieces, as a serial port delivers it."""
    rng = random.Random(seed)
    parser = RecordParser()
    items: list[Record | StreamEvent] = []
    pos = 0
    while pos < len(stream):
        size = rng.randint(1, 40)
        items.extend(parser.feed(stream[pos : pos + size]))
        pos += size
    items.extend(parser.flush())
    return items


def records_of(items: list[Record | StreamEvent]) -> list[Record]:
    return [item for item in items if isinstance(item, Record)]


def events_of(items: list[Record | StreamEvent]) -> list[StreamEvent]:
    return [item for item in items if isinstance(item, StreamEvent)]


# ---- encoding ---------------------------------------------------------------------------------


def test_record_round_trip_keeps_every_field() -> None:
    line = encode_record(
        7, "err", {"code": "ArenaTooSmall", "msg": "arena too small: need 5 bytes", "n": -3}
    )
    assert line.startswith(b"@md1 7 err ") and line.endswith(b"\n")
    body, crc = line.rstrip(b"\n").rsplit(b" *", 1)
    assert int(crc, 16) == crc32(body)
    (record,) = RecordParser().feed(line)
    assert isinstance(record, Record)
    assert (record.seq, record.type) == (7, "err")
    assert record.text("msg") == "arena too small: need 5 bytes"
    assert record.int("n") == -3


@pytest.mark.parametrize(
    "fields",
    [{"msg": 'has "quotes"'}, {"msg": "star * here"}, {"msg": "at @ sign"}, {"msg": "tab\t"}],
)
def test_values_a_record_cannot_carry_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        encode_record(0, "log", fields)


def test_records_longer_than_the_device_buffer_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_record(0, "dat", {"b64": "A" * MAX_RECORD_BYTES})


def test_top_classes_parse_integers_and_floats() -> None:
    assert parse_top("1:113,0:-113") == ((1, 113), (0, -113))
    assert parse_top("2:0.500000") == ((2, 0.5),)
    assert parse_top("none") == ()


# ---- faults in the stream ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_garbage_between_records_is_reported_and_skipped(seed: int) -> None:
    good = device_records(0, 6)
    noise = [b"\x00\xff\xfe binary noise", b"boot ROM v1.2\r\n", b"\x1b[2J", b"*12345678", b""]
    stream = b""
    for i, line in enumerate(good):
        stream += noise[i % len(noise)] + line
    items = parse_in_pieces(stream, seed)
    assert [r.raw + b"\n" for r in records_of(items)] == good
    kinds = [e.kind for e in events_of(items)]
    assert kinds.count("garbage") >= 3 and set(kinds) == {"garbage"}


@pytest.mark.parametrize("seed", range(5))
def test_truncated_record_is_reported_and_the_next_one_parses(seed: int) -> None:
    good = device_records(0, 4)
    cut = good[2][: len(good[2]) // 2]  # the device lost the rest of this line
    stream = good[0] + good[1] + cut + good[3]  # next record starts on the same line
    items = parse_in_pieces(stream, seed)
    assert [r.seq for r in records_of(items)] == [0, 1, 3]
    kinds = [e.kind for e in events_of(items)]
    assert kinds == ["truncated", "lost"]
    assert events_of(items)[1].count == 1


@pytest.mark.parametrize("position", [6, 15, 30])
def test_corrupted_record_is_reported_not_misparsed(position: int) -> None:
    good = device_records(0, 3)
    bad = bytearray(good[1])
    bad[position] ^= 0x04  # one flipped bit inside the record
    items = parse_in_pieces(good[0] + bytes(bad) + good[2], seed=position)
    assert [r.seq for r in records_of(items)] == [0, 2]
    kinds = [e.kind for e in events_of(items)]
    assert kinds[0] in ("corrupt", "truncated")
    assert kinds[-1] == "lost"


def test_lost_records_are_counted() -> None:
    good = device_records(0, 10)
    items = parse_in_pieces(b"".join(good[:3] + good[7:]), seed=1)
    (lost,) = events_of(items)
    assert lost.kind == "lost" and lost.count == 4
    assert [r.seq for r in records_of(items)] == [0, 1, 2, 7, 8, 9]


@pytest.mark.parametrize("seed", range(5))
def test_device_reset_mid_record_restarts_the_sequence(seed: int) -> None:
    before = device_records(10, 3)
    boot = encode_record(0, "boot", {"proto": 1, "board": "native", "status": "ok"})
    after = device_records(1, 3)
    half = before[2][:20]  # the reset cut this record short
    stream = b"".join(before[:2]) + half + b"\x00\x00" + boot + b"".join(after)
    items = parse_in_pieces(stream, seed)
    assert [(r.seq, r.type) for r in records_of(items)] == [
        (10, "res"),
        (11, "time"),
        (0, "boot"),
        (1, "res"),
        (2, "time"),
        (3, "res"),
    ]
    kinds = [e.kind for e in events_of(items)]
    assert "truncated" in kinds and kinds[-1] == "reset"
    assert "lost" not in kinds  # the boot record explains the restart


def test_sequence_restart_without_boot_record_is_a_reset() -> None:
    stream = b"".join(device_records(40, 2) + device_records(3, 2))
    items = parse_in_pieces(stream, seed=0)
    assert [r.seq for r in records_of(items)] == [40, 41, 3, 4]
    assert [e.kind for e in events_of(items)] == ["reset"]


def test_other_protocol_version_is_reported() -> None:
    body = b"@md2 0 boot proto=2"
    stream = body + b" *%08x\n" % crc32(body) + device_records(0, 1)[0]
    items = parse_in_pieces(stream, seed=0)
    assert [e.kind for e in events_of(items)] == ["version"]
    assert [r.seq for r in records_of(items)] == [0]


def test_endless_line_without_newline_is_dropped_and_reported() -> None:
    parser = RecordParser()
    items = parser.feed(b"x" * 20000)
    assert [e.kind for e in events_of(items)] == ["garbage"]
    items = parser.feed(b"\n" + device_records(0, 1)[0])
    assert [r.seq for r in records_of(items)] == [0]


def test_stream_ending_inside_a_record_is_truncated() -> None:
    parser = RecordParser()
    assert parser.feed(device_records(0, 1)[0][:25]) == []
    (event,) = parser.flush()
    assert isinstance(event, StreamEvent) and event.kind == "truncated"


# ---- a Device over a fake port ----------------------------------------------------------------


class FakePort:
    """Just enough of pyserial's API: plays back `chunks`, then goes silent or disappears."""

    def __init__(self, chunks: list[bytes], then: str = "silent") -> None:
        self.chunks = list(chunks)
        self.then = then
        self.timeout = 0.05
        self.written = b""

    def read(self, size: int = 1) -> bytes:
        if self.chunks:
            data, rest = self.chunks[0][:size], self.chunks[0][size:]
            if rest:
                self.chunks[0] = rest
            else:
                self.chunks.pop(0)
            return data
        if self.then == "gone":
            raise serial.SerialException("device reports readiness to read but returned no data")
        return b""

    @property
    def in_waiting(self) -> int:
        return len(self.chunks[0]) if self.chunks else 0

    def write(self, data: bytes) -> int:
        if self.then == "gone" and not self.chunks:
            raise serial.SerialException("write failed: [Errno 5] Input/output error")
        self.written += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_device_keeps_every_valid_record_and_reports_faults() -> None:
    good = device_records(0, 8)
    bad = bytearray(good[5])
    bad[10] ^= 0x01
    chunks = [b"noise\n", good[0], good[1][:9], good[1][9:], good[2], good[3] + b"\xff\xfe"]
    chunks += [good[4], bytes(bad), good[6], good[7]]
    seen: list[StreamEvent] = []
    device = Device(FakePort(chunks), on_event=seen.append)
    records = list(device.records(timeout=0.2))
    assert [r.seq for r in records] == [0, 1, 2, 3, 4, 6, 7]
    assert [e.kind for e in seen] == ["garbage", "garbage", "corrupt", "lost"]
    assert device.events == seen


def test_port_disappearing_is_a_device_error_with_a_hint() -> None:
    device = Device(FakePort(device_records(0, 2), then="gone"), name="/dev/ttyACM0")
    assert [device.next_record(0.2).seq, device.next_record(0.2).seq] == [0, 1]
    with pytest.raises(DeviceError) as info:
        device.next_record(timeout=0.2)
    assert "/dev/ttyACM0 closed" in info.value.message and "flash" in info.value.hint
    with pytest.raises(DeviceError, match="cannot write"):
        device.send("ping", id=1)


def test_silent_device_times_out_with_a_hint() -> None:
    device = Device(FakePort([]), name="socket://127.0.0.1:1")
    with pytest.raises(DeviceTimeout) as info:
        device.ping(timeout=0.2)
    assert "no answer" in info.value.message and info.value.hint
    assert device.port.written.startswith(b"@md1 0 ping id=0 *")


def test_error_record_while_waiting_raises_its_code_and_message() -> None:
    err = encode_record(0, "err", {"code": "NotReady", "msg": "arena too small: need 9, have 1"})
    device = Device(FakePort([err]))
    with pytest.raises(DeviceError, match="NotReady: arena too small") as info:
        device.wait_for({"done"}, 0.5, "the results")
    assert info.value.hint


def test_reset_while_waiting_for_an_answer_is_reported() -> None:
    boot = encode_record(0, "boot", {"proto": 1, "status": "ok"})
    device = Device(FakePort(device_records(5, 1) + [boot]))
    with pytest.raises(DeviceError, match="restarted"):
        device.wait_for({"done"}, 0.5, "the results")


# ---- what monitor keeps -----------------------------------------------------------------------


def test_monitor_state_tracks_latency_results_and_faults() -> None:
    state = MonitorState()
    items = parse_in_pieces(b"junk\n" + b"".join(device_records(0, 6)), seed=3)
    for item in items:
        if isinstance(item, Record):
            state.add_record(item)
        else:
            state.add_event(item)
    assert state.latency.count == 3
    assert state.latency.min_us == state.latency.max_us == 40
    assert state.latest is not None and state.latest.top == ((1, 2), (0, -5))
    assert state.event_counts() == {"garbage": 1}
    as_json = record_as_json(records_of(items)[1])
    assert as_json == {"seq": 1, "record": "time", "i": 0, "ticks": 1001, "us": 40}
    assert event_as_json(events_of(items)[0])["kind"] == "garbage"


def test_records_shown_in_the_protocol_document_are_valid() -> None:
    from microdeploy import paths

    doc = (paths.repo_root() / "docs" / "protocol.md").read_bytes()
    lines = [line + b"\n" for line in doc.splitlines() if re.match(rb"@md1 \d", line)]
    assert len(lines) >= 6
    items = RecordParser().feed(b"".join(lines))
    assert all(isinstance(item, Record) for item in items), events_of(items)
    assert [r.seq for r in records_of(items)] == list(range(len(lines)))


def test_device_of_another_protocol_version_is_named_not_just_silent() -> None:
    body = b"@md2 0 boot proto=2 board=future"
    device = Device(FakePort([body + b" *%08x\n" % crc32(body)]), name="/dev/ttyUSB0")
    with pytest.raises(DeviceError, match="another protocol version") as info:
        device.info(timeout=0.3)
    assert not isinstance(info.value, DeviceTimeout) and "flash" in info.value.hint
