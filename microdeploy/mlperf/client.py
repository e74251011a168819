"""The host side of the MLPerf Tiny device-under-test protocol over a pyserial port: send a
`%`-terminated command, collect the `\\r\\n` lines up to `m-ready` (as mlcommons/tiny's runner
does), and parse the replies with the runner's own patterns.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from microdeploy.errors import DeviceError
from microdeploy.protocol.serial_port import PortOwner, open_port, read_waiting

# mlcommons/tiny benchmark/runner (device_under_test.py, script.py).
NAME_RE = re.compile(r"^m-(name)-dut-\[([^]]+)]$")
PROFILE_RE = re.compile(r"^m-(model|profile)-\[([^]]+)]$")
RESULTS_RE = re.compile(r"^m-results-\[([^]]+)\]$")
LAP_RE = re.compile(r"^m-lap-us-([0-9]+)$")
READY = "m-ready"
TERMINATOR = "%"
CHUNK_BYTES = 31  # bytes per `db` command (the runner's _max_bytes without a power manager)


@dataclass(frozen=True)
class Reply:
    """One command's answer: its lines (without line ends, `m-ready` included) and the raw
    bytes, so a caller can check the line ends too."""

    command: str
    lines: tuple[str, ...]
    raw: bytes

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(line for line in self.lines if line.startswith("e-"))


@dataclass
class InferResult:
    lap_us: tuple[int, ...]
    scores: tuple[float, ...]
    lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def elapsed_us(self) -> int | None:
        return self.lap_us[1] - self.lap_us[0] if len(self.lap_us) >= 2 else None


def parse_results(line: str) -> tuple[float, ...] | None:
    """The floats of an `m-results-[a,b,...]` line (None for any other line)."""
    match = RESULTS_RE.match(line)
    if not match:
        return None
    return tuple(float(x) for x in match.group(1).split(",") if x.strip())


class DutClient(PortOwner):
    def __init__(self, port: object, name: str = "device", timeout: float = 5.0) -> None:
        self.port = port
        self.port_name = name
        self.timeout = timeout
        self._pending = b""

    @classmethod
    def open(cls, url: str, baud: int = 115200, timeout: float = 5.0) -> DutClient:
        hint = (
            "check the port name, that the device is connected and that no other "
            "program holds the port"
        )
        return cls(open_port(url, baud, hint), name=url, timeout=timeout)

    # ---- I/O ----------------------------------------------------------------------------

    def _read_some(self) -> bytes:
        import serial

        port = self.port
        try:
            data = bytearray(port.read(1))  # type: ignore[attr-defined]
            if data:
                read_waiting(port, data)  # a closed socket shows on the next read
            return bytes(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(
                f"serial port {self.port_name} closed: {exc}",
                "the device went away; start it again (`microdeploy flash`)",
            ) from None

    def read_until_ready(self, timeout: float | None = None, what: str = "") -> Reply:
        """Lines up to and including the next one that contains `m-ready`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        buffer = self._pending
        while True:
            end = buffer.find(b"\n", 0)
            while end >= 0:  # any complete m-ready line?
                start = buffer.rfind(b"\n", 0, end) + 1
                if READY.encode() in buffer[start:end]:
                    raw, self._pending = buffer[: end + 1], buffer[end + 1 :]
                    text = raw.decode("utf-8", errors="replace")
                    lines = tuple(line.rstrip("\r") for line in text.split("\n")[:-1])
                    return Reply(what, lines, raw)
                end = buffer.find(b"\n", end + 1)
            if time.monotonic() > deadline:
                self._pending = buffer
                shown = buffer[-80:].decode("utf-8", errors="replace")
                raise DeviceError(
                    f"no m-ready from {self.port_name} after `{what or 'boot'}`"
                    + (f" (last output: {shown!r})" if shown else " (no output)"),
                    "is this an MLPerf Tiny firmware (`init --app mlperf-tiny`)? "
                    "check the port and baud rate (115200)",
                )
            buffer += self._read_some()

    def command(self, text: str, timeout: float | None = None) -> Reply:
        """Sends `text%` and returns the reply up to `m-ready`."""
        import serial

        try:
            self.port.write((text + TERMINATOR).encode())  # type: ignore[attr-defined]
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(
                f"cannot write to {self.port_name}: {exc}", "the device went away; start it again"
            ) from None
        return self.read_until_ready(timeout, text)

    def sync(self, timeout: float = 10.0) -> Reply:
        """Skips whatever the device sent before (boot lines, a reply nobody read): ends any
        partial command with a bare `%` (as the runner's reset_port does), then sends an
        unknown command and reads up to its error line's `m-ready`. Returns that reply."""
        token = f"sync-{os.getpid()}-{time.monotonic_ns() % 1000000}"
        import serial

        try:
            self.port.write((TERMINATOR + token + TERMINATOR).encode())  # type: ignore[attr-defined]
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(
                f"cannot write to {self.port_name}: {exc}", "start the device again"
            ) from None
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read_until_ready(max(0.1, deadline - time.monotonic()), "sync")
            if f"e-[Unknown command: {token}]" in reply.lines:
                return reply

    # ---- the runner's steps -------------------------------------------------------------

    def name(self) -> str:
        for line in self.command("name").lines:
            match = NAME_RE.match(line)
            if match:
                return match.group(2)
        raise DeviceError(
            f"{self.port_name} did not tell its name", "is it an MLPerf Tiny firmware?"
        )

    def profile(self) -> dict[str, str]:
        found = {}
        for line in self.command("profile").lines:
            match = PROFILE_RE.match(line)
            if match:
                found[match.group(1)] = match.group(2)
        return found

    def load(self, data: bytes, chunk: int = CHUNK_BYTES) -> None:
        """`db load N` then `db HEX` commands of `chunk` bytes, as the runner sends them."""
        replies = [self.command(f"db load {len(data)}")]
        for i in range(0, len(data), chunk):
            replies.append(self.command(f"db {data[i : i + chunk].hex()}"))
        errors = [e for r in replies for e in r.errors]
        unexpected = [line for line in replies[0].lines if line.startswith("Supplied")]
        if errors or unexpected or "m-load-done" not in replies[-1].lines:
            problem = (errors + unexpected + ["no m-load-done"])[0]
            raise DeviceError(
                f"loading {len(data)} bytes failed: {problem}",
                "the input does not fit the device's db buffer (wrong benchmark or model?)",
            )

    def infer(self, iterations: int = 1, warmups: int = 0, timeout: float = 30.0) -> InferResult:
        reply = self.command(f"infer {iterations} {warmups}", timeout=timeout)
        if reply.errors or any(line.startswith("Input db has") for line in reply.lines):
            problem = (*reply.errors, *[x for x in reply.lines if x.startswith("Input")])[0]
            raise DeviceError(f"infer failed: {problem}", "load a complete input first")
        laps = tuple(int(m.group(1)) for m in map(LAP_RE.match, reply.lines) if m)
        scores: tuple[float, ...] = ()
        for line in reply.lines:
            parsed = parse_results(line)
            if parsed is not None:
                scores = parsed
        return InferResult(laps, scores, reply.lines)

    def results(self) -> tuple[float, ...]:
        for line in self.command("results").lines:
            parsed = parse_results(line)
            if parsed is not None:
                return parsed
        raise DeviceError(f"{self.port_name} sent no m-results line", "run an inference first")
