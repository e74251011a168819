"""The device-side codec (runtime_cpp/src/md/app/protocol.cc) on the host: its own self-test
under ASan/UBSan, and both codecs against each other (C++ encodes -> Python parses, Python
encodes -> C++ parses), so device and host agree on every byte of the format."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import paths
from microdeploy.protocol.codec import (
    CHUNK_BYTES,
    Record,
    RecordParser,
    b64decode,
    crc32,
    encode_record,
)


@pytest.fixture(scope="module")
def codec_test(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    runtime = paths.runtime_dir()
    binary = tmp_path_factory.mktemp("protocol") / "protocol_test"
    command = [
        "g++",
        "-std=c++17",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fno-exceptions",
        "-fno-rtti",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        f"-I{runtime / 'src'}",
        str(runtime / "src" / "md" / "app" / "protocol.cc"),
        str(runtime / "tests" / "app" / "protocol_test.cc"),
        "-o",
        str(binary),
    ]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return binary


def test_device_codec_self_test_passes(codec_test: Path) -> None:
    proc = subprocess.run([str(codec_test)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(" passed, 0 failed")


def test_records_the_device_encodes_parse_on_the_host(codec_test: Path) -> None:
    proc = subprocess.run([str(codec_test), "encode"], capture_output=True, timeout=60, check=True)
    items = RecordParser().feed(proc.stdout)
    assert all(isinstance(item, Record) for item in items), items
    by_type = {item.type: item for item in items}
    assert [item.seq for item in items] == [0, 1, 2, 3, 4]
    assert by_type["boot"].int("arena_used") == 55360
    assert by_type["tensor"].text("shape") == "1x96x96x1"
    assert by_type["err"].text("msg") == "op 3 has unsupported code 99 (?CUSTOM?)"
    chunk = b64decode(by_type["dat"].text("b64"))
    assert chunk == bytes((i * 7 + 3) & 0xFF for i in range(CHUNK_BYTES))
    assert by_type["res"].int("i") == -(2**63)
    assert int(by_type["res"].text("crc"), 16) == crc32(chunk)


def _device_parse(codec_test: Path, lines: list[bytes]) -> list[str]:
    proc = subprocess.run(
        [str(codec_test), "parse"],
        input=b"".join(lines),
        capture_output=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.decode().splitlines()


def test_commands_the_host_encodes_parse_on_the_device(codec_test: Path) -> None:
    data = bytes(range(256))[:CHUNK_BYTES]
    lines = [
        encode_record(0, "ping", {"id": 42}),
        encode_record(1, "in", {"idx": 0, "bytes": 9216, "crc": f"{crc32(data):08x}"}),
        encode_record(2, "dat", {"off": 288, "b64": base64.b64encode(data).decode()}),
        encode_record(3, "log", {"msg": "two words"}),
        b"run n=3 out=1\n",  # typed by hand: no frame, no CRC
    ]
    parsed = _device_parse(codec_test, lines)
    assert parsed[0] == "ok framed 0 ping id=42"
    assert parsed[1] == f"ok framed 1 in idx=0 bytes=9216 crc={crc32(data):08x}"
    assert parsed[2].endswith(f"decoded={len(data)}:{data.hex()}")
    assert parsed[3] == "ok framed 3 log msg=two words"
    assert parsed[4] == "ok plain 0 run n=3 out=1"


def test_device_rejects_corrupted_and_foreign_records(codec_test: Path) -> None:
    good = encode_record(5, "run", {"n": 1})
    flipped = bytearray(good)
    flipped[8] ^= 0x01
    other_version = good.replace(b"@md1", b"@md7")
    cut = good[:12] + b"\n"
    parsed = _device_parse(codec_test, [bytes(flipped), other_version, cut, b"\n"])
    assert parsed == ["badcrc", "badversion", "malformed", "empty"]
