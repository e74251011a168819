"""Opening and closing the serial port a device speaks on (the protocol's Device and the MLPerf
DUT client both own one): pyserial URLs (a device path, socket://host:port, ...), one error
message for a port that cannot be opened, a close that never hides the real error."""

from __future__ import annotations

import select
from typing import Self

from microdeploy.errors import DeviceError

# Short reads: the callers loop with their own deadlines; writes that block this long mean a
# device that stopped reading.
READ_TIMEOUT_S = 0.05
WRITE_TIMEOUT_S = 5


def open_port(url: str, baud: int, hint: str, exclusive: bool = False) -> object:
    """A pyserial port for `url`. `exclusive`: lock a local port (flock) while it is open, so a
    second reader fails instead of taking bytes meant for the first (not for URLs)."""
    import serial  # pyserial; imported here so the codecs work without it

    try:
        lock = {"exclusive": True} if exclusive and "://" not in url else {}
        return serial.serial_for_url(
            url, baudrate=baud, timeout=READ_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S, **lock
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(f"cannot open serial port {url}: {exc}", hint) from None


def read_waiting(port: object, data: bytearray) -> bool:
    """Appends to `data` what has already arrived, without waiting: a socket:// port is drained
    from its socket (pyserial would read it a byte per call). Appends as it goes, so what was
    read before an error stays in `data`. Returns True when the socket's other end closed."""
    sock = getattr(port, "_socket", None)
    if sock is not None:
        while select.select([sock], [], [], 0)[0]:
            more = sock.recv(65536)
            if not more:
                return True
            data += more
        return False
    waiting = port.in_waiting  # type: ignore[attr-defined]
    if waiting:
        data += port.read(waiting)  # type: ignore[attr-defined]
    return False


class PortOwner:
    """close() and `with` for a class that keeps its pyserial port in `self.port`."""

    port: object

    def close(self) -> None:
        try:
            self.port.close()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - closing a dead port must not hide the real error
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
