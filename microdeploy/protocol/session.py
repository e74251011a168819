"""A session with a device over any pyserial port (a /dev/tty*, a pty path, `socket://h:p`).

`Device` sends commands one at a time and waits for their answer (stop-and-wait, so a device's
small receive buffer never overflows). Stream faults (garbage, corrupt or lost records, resets)
are collected in `events` and passed to `on_event`; a port that closes or a device that stays
silent past the timeout raises DeviceError with a hint.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from microdeploy.errors import DeviceError
from microdeploy.protocol.codec import (
    Record,
    RecordParser,
    StreamEvent,
    b64decode,
    b64encode,
    chunks,
    crc32,
    encode_record,
)
from microdeploy.protocol.serial_port import PortOwner, open_port, read_waiting

_DTYPES = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float32": np.float32,
    "bool": np.bool_,
}
_SILENT_HINT = (
    "check that the firmware runs the microdeploy app and the port/baud are right; "
    "`microdeploy flash` starts it again"
)
_CHUNK_RETRIES = 3


@dataclass(frozen=True)
class TensorInfo:
    io: str  # "in" | "out"
    index: int
    dtype: str
    shape: tuple[int, ...]
    nbytes: int

    @classmethod
    def from_record(cls, record: Record) -> TensorInfo:
        shape_text = record.text("shape", "0")
        shape = tuple(int(d) for d in shape_text.split("x")) if shape_text else ()
        return cls(
            record.text("io"),
            record.int("idx", 0),
            record.text("type"),
            shape,
            record.int("bytes", 0),
        )


@dataclass(frozen=True)
class DeviceInfo:
    """What the device says about itself in its `boot`/`info` block."""

    proto: int
    runtime: str
    board: str
    model: str
    status: str
    arena_used: int
    arena_size: int
    clock: str
    hz: int
    auto_ms: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    error: str = ""  # the set-up failure, when status != "ok"
    arena_need: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Inference:
    index: int
    top: tuple[tuple[int, float], ...]  # (class, raw value), highest first
    ticks: int
    us: int
    clock: str
    hz: int


@dataclass(frozen=True)
class OpProfile:
    op: int
    name: str
    ticks: int


@dataclass
class RunResult:
    inferences: list[Inference] = field(default_factory=list)
    outputs: list[np.ndarray] = field(default_factory=list)
    profile: list[OpProfile] = field(default_factory=list)


def parse_top(text: str) -> tuple[tuple[int, float], ...]:
    if not text or text == "none":
        return ()
    pairs = []
    for item in text.split(","):
        cls, _, value = item.partition(":")
        number = float(value)
        pairs.append((int(cls), int(number) if number.is_integer() else number))
    return tuple(pairs)


def inference_from(res: Record | None, timing: Record) -> Inference:
    return Inference(
        index=timing.int("i", 0),
        top=parse_top(res.text("top")) if res is not None else (),
        ticks=timing.int("ticks", 0),
        us=timing.int("us", 0),
        clock=timing.text("clock"),
        hz=timing.int("hz", 0),
    )


class DeviceTimeout(DeviceError):
    """The device stayed silent past the timeout."""


class Device(PortOwner):
    """One connection to a device. Not thread-safe; one command at a time."""

    def __init__(
        self,
        port: object,
        *,
        name: str = "device",
        on_event: Callable[[StreamEvent], None] | None = None,
        on_record: Callable[[Record], None] | None = None,
    ) -> None:
        self.port = port
        self.name = name
        self.parser = RecordParser()
        self.events: list[StreamEvent] = []
        self.on_event = on_event
        self.on_record = on_record
        self._pending: deque[Record | StreamEvent] = deque()
        self._seq = 0
        self.last_boot: Record | None = None
        self._port_error: DeviceError | None = None

    # ---- opening and low-level I/O -------------------------------------------------------

    @classmethod
    def open(cls, url: str, baud: int = 115200, **kwargs: object) -> Device:
        hint = (
            "check the port name (`microdeploy flash` prints where the device listens), "
            "that the device is connected, and that no other program holds the port"
        )
        # A local serial port is locked (flock) while we use it: a second reader would take
        # bytes meant for the first, so "port busy" is an error, not silent loss.
        port = open_port(url, baud, hint, exclusive=True)
        return cls(port, name=url, **kwargs)  # type: ignore[arg-type]

    def _read_bytes(self, timeout: float) -> bytes:
        """Bytes that arrived within `timeout` (b"" if none). Bytes read before the port
        failed are returned first; the failure is raised on the next call."""
        import serial

        port = self.port
        if self._port_error is not None:
            try:  # what the port still holds from before the failure
                port.timeout = 0  # type: ignore[attr-defined]
                rest = port.read(65536)  # type: ignore[attr-defined]
            except (serial.SerialException, OSError):
                rest = b""
            if rest:
                return rest
            raise self._port_error
        data = bytearray()
        try:
            port.timeout = max(0.0, min(timeout, 0.05))  # type: ignore[attr-defined]
            data += port.read(1)  # type: ignore[attr-defined]
            if data and read_waiting(port, data):
                raise serial.SerialException("socket disconnected")
            return bytes(data)
        except (serial.SerialException, OSError) as exc:
            self._port_error = DeviceError(
                f"serial port {self.name} closed: {exc}",
                "the device went away (unplugged, reset or the emulator stopped); "
                "run `microdeploy flash` again",
            )
            if data:
                return bytes(data)
            raise self._port_error from None

    def send(self, type_: str, **fields: object) -> None:
        import serial

        line = encode_record(self._seq, type_, fields)
        self._seq += 1
        try:
            self.port.write(line)  # type: ignore[attr-defined]
            self.port.flush()  # type: ignore[attr-defined]
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(
                f"cannot write to serial port {self.name}: {exc}",
                "the device went away; run `microdeploy flash` again",
            ) from None

    def _note(self, item: Record | StreamEvent) -> None:
        if isinstance(item, Record) and item.type == "boot":
            self.last_boot = item
        self._pending.append(item)

    def _deliver_events(self) -> None:
        """Reports the stream events queued ahead of the next record, keeping stream order."""
        while self._pending and isinstance(self._pending[0], StreamEvent):
            event = self._pending.popleft()
            assert isinstance(event, StreamEvent)
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)

    def next_record(self, timeout: float) -> Record | None:
        """The next record, or None when nothing complete arrived within `timeout` seconds.
        Stream events before it go to `events` and `on_event` first."""
        deadline = time.monotonic() + timeout
        while True:
            self._deliver_events()
            if self._pending:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                data = self._read_bytes(left)
            except DeviceError:
                for item in self.parser.flush():  # a record cut by the failure is reported
                    self._note(item)
                self._deliver_events()
                if not self._pending:
                    raise
                break
            for item in self.parser.feed(data):
                self._note(item)
        record = self._pending.popleft()
        assert isinstance(record, Record)
        if self.on_record is not None:
            self.on_record(record)
        return record

    def records(self, timeout: float) -> Iterable[Record]:
        """Records as they come; ends after `timeout` seconds without one."""
        while True:
            record = self.next_record(timeout)
            if record is None:
                return
            yield record

    def wait_for(
        self,
        types: set[str],
        timeout: float,
        what: str,
        *,
        errors_ok: frozenset[str] | set[str] = frozenset(),
    ) -> Record:
        """Reads until a record of one of `types`; other records are skipped (auto-run reports).

        An `err` record raises DeviceError unless its code is in `errors_ok` (then it is
        returned); a `boot` record that was not asked for means the device restarted.
        """
        deadline = time.monotonic() + timeout
        events_before = len(self.events)
        while True:
            left = deadline - time.monotonic()
            record = self.next_record(left) if left > 0 else None
            if record is None:
                message = f"no answer from {self.name} within {timeout:g} s waiting for {what}"
                events = self.events[events_before:]
                foreign = [e for e in events if e.kind == "version"]
                if foreign:
                    raise DeviceError(
                        f"{self.name} speaks another protocol version: {foreign[-1].detail}",
                        "rebuild and flash the firmware with this microdeploy version",
                    )
                if any(e.kind == "garbage" for e in events):
                    # Bytes came but none formed a record: the classic wrong baud rate.
                    raise DeviceTimeout(
                        f"{message}; only unreadable bytes arrived",
                        "check the baud rate (--baud; the board's serial_baud) and that the "
                        "device runs the microdeploy app",
                    )
                raise DeviceTimeout(message, _SILENT_HINT)
            if record.type in types:
                return record
            if record.type == "err":
                if record.text("code") in errors_ok:
                    return record
                raise DeviceError(
                    f"device error {record.text('code')}: {record.text('msg')}",
                    _error_hint(record.text("code")),
                )
            if record.type == "boot":
                raise DeviceError(
                    f"the device restarted while waiting for {what}",
                    "a crash or a watchdog reset on the device; look at its debug output",
                )

    # ---- commands ----------------------------------------------------------------------------

    def ping(self, timeout: float = 2.0) -> float:
        """Round-trip time in seconds."""
        start = time.monotonic()
        token = str(self._seq)
        self.send("ping", id=token)
        while True:
            pong = self.wait_for({"pong"}, timeout, "pong")
            if pong.text("id") == token:
                return time.monotonic() - start

    def info(self, timeout: float = 5.0) -> DeviceInfo:
        self.send("info")
        head = self.wait_for({"info", "boot"}, timeout, "the device info")
        return self._read_info_block(head, timeout)

    def wait_boot(self, timeout: float = 10.0) -> DeviceInfo:
        """Waits for the boot block (after a start or a reset)."""
        if self.last_boot is not None:
            head = self.last_boot
        else:
            head = self.wait_for({"boot"}, timeout, "the boot record")
        return self._read_info_block(head, timeout)

    def _read_info_block(self, head: Record, timeout: float) -> DeviceInfo:
        tensors: list[TensorInfo] = []
        error = ""
        while True:
            record = self.wait_for(
                {"tensor", "ready"}, timeout, "the device info", errors_ok=_SETUP_ERRORS
            )
            if record.type == "ready":
                break
            if record.type == "err":
                error = f"{record.text('code')}: {record.text('msg')}"
            else:
                tensors.append(TensorInfo.from_record(record))
        return DeviceInfo(
            proto=head.int("proto", 0),
            runtime=head.text("runtime"),
            board=head.text("board"),
            model=head.text("model"),
            status=head.text("status"),
            arena_used=head.int("arena_used", 0),
            arena_size=head.int("arena_size", 0),
            clock=head.text("clock"),
            hz=head.int("hz", 0),
            auto_ms=head.int("auto", 0),
            inputs=tuple(t for t in tensors if t.io == "in"),
            outputs=tuple(t for t in tensors if t.io == "out"),
            error=error,
            arena_need=head.int("arena_need") if "arena_need" in head.fields else None,
        )

    def set_auto(self, ms: int, profile: bool = False, timeout: float = 5.0) -> None:
        self.send("auto", ms=ms, prof=int(profile))
        self.wait_for({"ok"}, timeout, "the answer to auto")

    def load_input(self, index: int, data: bytes, timeout: float = 5.0) -> None:
        """Sends input tensor `index` in chunks; each chunk waits for its acknowledgement."""
        self.send("in", idx=index, bytes=len(data), crc=f"{crc32(data):08x}")
        self.wait_for({"ack"}, timeout, f"the device to accept input {index}")
        ack: Record | None = None
        for offset, piece in chunks(data):
            expected = offset + len(piece)
            ack = self._send_chunk(index, offset, piece, expected, timeout)
            if ack.int("off", -1) != expected:
                raise DeviceError(
                    f"input {index}: device acknowledged byte {ack.int('off', -1)}, "
                    f"expected {expected}",
                    "the transfer got out of step; run the command again",
                )
        if ack is None or ack.int("done", 0) != 1:
            raise DeviceError(f"input {index}: the device did not confirm the whole input")

    def _send_chunk(
        self, index: int, offset: int, piece: bytes, expected: int, timeout: float
    ) -> Record:
        """One `dat` record, sent again when it arrives corrupted or its ack is lost.

        An ack for fewer bytes than `expected` is a late answer to a chunk sent twice: skipped.
        """
        for attempt in range(_CHUNK_RETRIES + 1):
            self.send("dat", off=offset, b64=b64encode(piece))
            try:
                while True:
                    ack = self.wait_for(
                        {"ack"}, timeout, f"input {index} byte {offset}", errors_ok={"BadRecord"}
                    )
                    if ack.type != "ack" or ack.int("off", -1) >= expected:
                        break
            except DeviceTimeout:
                if attempt == _CHUNK_RETRIES:
                    raise
                continue
            if ack.type == "ack":
                return ack
        raise DeviceError(
            f"input {index}: the chunk at byte {offset} was corrupted "
            f"{_CHUNK_RETRIES + 1} times on the way to the device",
            "check the cable and the baud rate",
        )

    def run(
        self,
        n: int = 1,
        *,
        outputs: bool = True,
        profile: bool = False,
        output_info: tuple[TensorInfo, ...] = (),
        timeout: float = 30.0,
    ) -> RunResult:
        """Runs `n` inferences; returns their timings, the last outputs and the profile."""
        self.send("run", n=n, out=int(outputs), prof=int(profile))
        result = RunResult()
        pending_res: Record | None = None
        current: tuple[Record, bytearray] | None = None
        want = {"res", "time", "out", "dat", "prof", "profend", "done"}
        while True:
            record = self.wait_for(want, timeout, "the inference results")
            kind = record.type
            if kind == "res":
                pending_res = record
            elif kind == "time":
                result.inferences.append(inference_from(pending_res, record))
                pending_res = None
            elif kind == "out":
                if current is not None:
                    result.outputs.append(_finish_tensor(*current))
                current = (record, bytearray())
            elif kind == "dat" and current is not None:
                offset = record.int("off", -1)
                if offset != len(current[1]):
                    raise DeviceError(
                        f"output {current[0].int('idx', 0)}: data at byte {offset} arrived, "
                        f"expected byte {len(current[1])} (records lost)",
                        "the serial line dropped data; run again or lower the baud rate",
                    )
                current[1].extend(_b64d(record.text("b64")))
            elif kind == "prof":
                result.profile.append(
                    OpProfile(record.int("op", 0), record.text("name"), record.int("ticks", 0))
                )
            elif kind == "done":
                if current is not None:
                    result.outputs.append(_finish_tensor(*current))
                if record.int("n", 0) != n:
                    raise DeviceError(f"the device ran {record.int('n', 0)} of {n} inferences")
                return result


_SETUP_ERRORS = {
    "ArenaTooSmall",
    "UnsupportedOp",
    "UnsupportedType",
    "MalformedModel",
    "ShapeMismatch",
    "InvalidArgument",
    "KernelError",
}


def _error_hint(code: str) -> str:
    return {
        "ArenaTooSmall": "give the model a larger arena (`microdeploy init ... --arena BYTES`)",
        "UnsupportedOp": "the firmware lacks a kernel for an op of this model",
        "NotReady": "the model could not be set up on the device; see `microdeploy monitor`",
        "BadInput": "the input does not match the model's input tensor (size or type)",
        "BadRecord": "the serial line corrupts data; check the cable and the baud rate",
        "BadCommand": "host and firmware disagree on the protocol; rebuild and flash",
        "InputError": "the device's camera gave no frame (docs/camera.md); on the native board "
        "MD_CAMERA_FRAMES must name a folder of frames when `flash` starts it",
    }.get(code, "see docs/protocol.md for the error codes")


def _b64d(text: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError:
        raise DeviceError(
            "the device sent bad base64 data", "rebuild and flash the firmware"
        ) from None


def _finish_tensor(header: Record, data: bytearray) -> np.ndarray:
    index = header.int("idx", 0)
    expected = header.int("bytes", -1)
    if len(data) != expected:
        raise DeviceError(
            f"output {index}: received {len(data)} of {expected} bytes (records lost)",
            "the serial line dropped data; run again",
        )
    if crc32(bytes(data)) != int(header.text("crc", "0"), 16):
        raise DeviceError(f"output {index}: CRC mismatch over the whole tensor", "run again")
    dtype = _DTYPES.get(header.text("type"))
    if dtype is None:
        raise DeviceError(f"output {index}: type {header.text('type')} is not supported")
    shape = tuple(int(d) for d in header.text("shape", "0").split("x"))
    return np.frombuffer(bytes(data), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
