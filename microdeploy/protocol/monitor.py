"""What `microdeploy monitor` keeps while records stream in: the device's banner, the latest
result, latency statistics, the last profile and the stream faults. No printing here: the CLI
renders a MonitorState (rich view or JSON lines)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from microdeploy.protocol.codec import Record, StreamEvent
from microdeploy.protocol.session import Inference, OpProfile, inference_from, parse_top


@dataclass
class LatencyStats:
    count: int = 0
    total_us: int = 0
    min_us: int | None = None
    max_us: int | None = None

    def add(self, us: int) -> None:
        self.count += 1
        self.total_us += us
        self.min_us = us if self.min_us is None else min(self.min_us, us)
        self.max_us = us if self.max_us is None else max(self.max_us, us)

    @property
    def mean_us(self) -> float | None:
        return self.total_us / self.count if self.count else None


@dataclass
class MonitorState:
    banner: Record | None = None
    latest: Inference | None = None
    latency: LatencyStats = field(default_factory=LatencyStats)
    profile: list[OpProfile] = field(default_factory=list)
    events: list[StreamEvent] = field(default_factory=list)
    errors: list[Record] = field(default_factory=list)
    frame: Record | None = None  # the latest camera frame (`frame`: size, capture/prep times)
    records: int = 0
    _res: Record | None = None
    _profile_building: list[OpProfile] = field(default_factory=list)

    def add_record(self, record: Record) -> Inference | None:
        """Takes one record in; returns the inference it completed, if any."""
        self.records += 1
        kind = record.type
        if kind in ("boot", "info"):
            self.banner = record
        elif kind == "res":
            self._res = record
        elif kind == "frame":
            self.frame = record
        elif kind == "time":
            res = (
                self._res
                if self._res and self._res.fields.get("i") == record.fields.get("i")
                else None
            )
            self.latest = inference_from(res, record)
            self._res = None
            self.latency.add(self.latest.us)
            return self.latest
        elif kind == "prof":
            self._profile_building.append(
                OpProfile(record.int("op", 0), record.text("name"), record.int("ticks", 0))
            )
        elif kind == "profend":
            self.profile, self._profile_building = self._profile_building, []
        elif kind == "err":
            self.errors.append(record)
        return None

    def add_event(self, event: StreamEvent) -> None:
        self.events.append(event)

    def event_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return counts


# Fields that stay text even when they look like numbers (hashes, CRCs, names).
_TEXT_FIELDS = {"model", "crc", "runtime", "board", "clock", "name", "code", "msg", "b64", "id"}


def record_as_json(record: Record) -> dict[str, object]:
    """A record as one JSON object: numbers as numbers, `top` as [[class, value], ...]."""
    obj: dict[str, object] = {"seq": record.seq, "record": record.type}
    for key, value in record.fields.items():
        if key == "top":
            obj[key] = [list(pair) for pair in parse_top(value)]
            continue
        if key not in _TEXT_FIELDS and re.fullmatch(r"-?\d+", value):
            obj[key] = int(value)
        else:
            obj[key] = value
    return obj


def event_as_json(event: StreamEvent) -> dict[str, object]:
    obj: dict[str, object] = {"record": "event", "kind": event.kind, "detail": event.detail}
    if event.count:
        obj["count"] = event.count
    return obj
