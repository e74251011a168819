"""The serial protocol between the host and a device (docs/protocol.md)."""

from microdeploy.protocol.codec import (
    CHUNK_BYTES,
    MAX_RECORD_BYTES,
    PROTOCOL_VERSION,
    Record,
    RecordParser,
    StreamEvent,
    encode_record,
)

__all__ = [
    "CHUNK_BYTES",
    "MAX_RECORD_BYTES",
    "PROTOCOL_VERSION",
    "Record",
    "RecordParser",
    "StreamEvent",
    "encode_record",
]
