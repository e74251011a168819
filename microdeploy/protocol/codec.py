"""Records of the serial protocol (docs/protocol.md): encoding, and a parser that turns a raw
byte stream into checked records plus stream events (garbage, truncated, corrupt, lost, reset).

The parser never raises on bad input: every problem in the stream becomes a StreamEvent, and
the records around it still come through, so a monitor can report faults and keep going.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

PROTOCOL_VERSION = 1
MAX_RECORD_BYTES = 250  # including the newline; the device's line buffer holds 256
CHUNK_BYTES = 144  # tensor bytes per `dat` record (192 base64 characters)
_MARKER = b"@md"
# A line this long without a newline is not ours: report it and drop it.
_MAX_LINE_BYTES = 8192

_TOKEN = re.compile(r"[!#-)+-?A-~]+")  # printable ASCII without space, '"', '*', '@'
_TEXT = re.compile(r"[ !#-)+-?A-~]*")
_KEY = re.compile(r"[a-z0-9_]+")
_FIELD = re.compile(rb' +([a-z0-9_]+)=(?:"([ !#-)+-?A-~]*)"|([!#-)+-?A-~]+))(?= |$)')
_HEAD = re.compile(rb"@md1 (\d{1,10}) ([a-z]+)")
_TAIL = re.compile(rb" \*([0-9a-f]{8})$")


@dataclass(frozen=True)
class Record:
    """One checked record. Field values are text; `int()`/`text()` read them."""

    seq: int
    type: str
    fields: Mapping[str, str]
    raw: bytes = b""

    def int(self, key: str, default: int | None = None) -> int:
        value = self.fields.get(key)
        if value is None:
            if default is None:
                raise KeyError(f"record '{self.type}' has no field '{key}'")
            return default
        return int(value)

    def text(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


@dataclass(frozen=True)
class StreamEvent:
    """Something wrong in the byte stream, reported instead of silently skipped.

    kind: garbage | truncated | corrupt | lost | reset | version
    """

    kind: str
    detail: str
    data: bytes = b""
    count: int = 0


Item = Record | StreamEvent


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _format_value(key: str, value: object) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"bad field name {key!r}")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _TOKEN.fullmatch(text):
        return text
    if _TEXT.fullmatch(text):
        return f'"{text}"'
    raise ValueError(f"field {key!r}: value {text!r} has characters a record cannot carry")


def encode_record(seq: int, type_: str, fields: Mapping[str, object] | None = None) -> bytes:
    """One framed record, newline included. Raises ValueError for what cannot be encoded."""
    if not re.fullmatch(r"[a-z]+", type_):
        raise ValueError(f"bad record type {type_!r}")
    if not 0 <= seq <= 0xFFFFFFFF:
        raise ValueError(f"sequence number {seq} out of range")
    parts = [f"@md{PROTOCOL_VERSION} {seq} {type_}"]
    for key, value in (fields or {}).items():
        parts.append(f"{key}={_format_value(key, value)}")
    body = " ".join(parts).encode("ascii")
    line = body + b" *%08x\n" % crc32(body)
    if len(line) > MAX_RECORD_BYTES:
        raise ValueError(f"record of {len(line)} bytes exceeds {MAX_RECORD_BYTES}")
    return line


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _parse_fields(text: bytes) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _FIELD.match(text, pos)
        if match is None:
            return None
        quoted, bare = match.group(2), match.group(3)
        fields[match.group(1).decode()] = (quoted if quoted is not None else bare).decode()
        pos = match.end()
    return fields


def _shorten(data: bytes, limit: int = 60) -> str:
    text = repr(bytes(data))[2:-1]  # control and non-ASCII bytes as escapes
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RecordParser:
    """Feeds on raw bytes, yields Records and StreamEvents in stream order.

    Sequence numbers are checked across records: a gap becomes a `lost` event, a `boot` record
    (sequence 0) or a sequence that starts again becomes a `reset` event.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._expected_seq: int | None = None
        self.stats: dict[str, int] = {}

    def feed(self, data: bytes) -> list[Item]:
        self._buffer += data
        items: list[Item] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            items.extend(self._parse_line(line))
        if len(self._buffer) > _MAX_LINE_BYTES:
            items.append(
                self._event(
                    "garbage", "over-long line without newline dropped", bytes(self._buffer[:80])
                )
            )
            self._buffer.clear()
        return items

    def flush(self) -> list[Item]:
        """The stream ended: whatever is left is a cut line."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if not rest.strip():
            return []
        return self._parse_line(rest)

    def reset_sequence(self) -> None:
        """Forget the expected sequence number (e.g. after reconnecting to a running device)."""
        self._expected_seq = None

    def _event(self, kind: str, detail: str, data: bytes = b"", count: int = 0) -> StreamEvent:
        self.stats[kind] = self.stats.get(kind, 0) + 1
        return StreamEvent(kind, detail, data, count)

    def _parse_line(self, line: bytes) -> list[Item]:
        line = line.rstrip(b"\r")
        items: list[Item] = []
        starts = [m.start() for m in re.finditer(re.escape(_MARKER), line)]
        head = line[: starts[0]] if starts else line
        if head.strip():
            items.append(
                self._event("garbage", f"skipped {len(head)} bytes: {_shorten(head)}", head)
            )
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(line)
            segment = line[start:end]
            if i + 1 < len(starts):
                segment = segment.rstrip(b" ")
            items.extend(self._parse_segment(segment))
        return items

    def _parse_segment(self, segment: bytes) -> list[Item]:
        segment = segment.rstrip(b" \r")
        version = re.match(rb"@md(\d+) ", segment)
        if version is not None and version.group(1) != str(PROTOCOL_VERSION).encode():
            return [
                self._event(
                    "version",
                    f"record of protocol version "
                    f"{version.group(1).decode()} (this host speaks "
                    f"{PROTOCOL_VERSION}): {_shorten(segment)}",
                    segment,
                )
            ]
        tail = _TAIL.search(segment)
        if tail is None:
            return [self._event("truncated", f"record cut short: {_shorten(segment)}", segment)]
        body = segment[: tail.start()]
        if crc32(body) != int(tail.group(1), 16):
            return [self._event("corrupt", f"CRC mismatch: {_shorten(segment)}", segment)]
        head = _HEAD.match(body)
        fields = _parse_fields(body[head.end() :]) if head else None
        if head is None or fields is None:
            return [self._event("corrupt", f"malformed record: {_shorten(segment)}", segment)]
        record = Record(int(head.group(1)), head.group(2).decode(), fields, segment)
        return [*self._check_sequence(record), record]

    def _check_sequence(self, record: Record) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        expected = self._expected_seq
        if record.type == "boot":
            if expected is not None:
                events.append(self._event("reset", "device restarted (boot record)"))
        elif expected is not None and record.seq != expected:
            if record.seq > expected:
                missing = record.seq - expected
                events.append(
                    self._event(
                        "lost", f"{missing} record(s) lost before #{record.seq}", count=missing
                    )
                )
            else:
                events.append(
                    self._event(
                        "reset",
                        f"sequence restarted at #{record.seq} (expected #{expected}); "
                        "the device probably restarted and its boot record was lost",
                    )
                )
        self._expected_seq = record.seq + 1
        return events


def chunks(data: bytes, size: int = CHUNK_BYTES) -> list[tuple[int, bytes]]:
    """(offset, bytes) pieces of a tensor, one per `dat` record."""
    return [(offset, data[offset : offset + size]) for offset in range(0, len(data), size)]
