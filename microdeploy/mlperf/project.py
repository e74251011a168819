"""What `init --app mlperf-tiny --benchmark B` adds to a project: its own src/main.cpp (the
device under test instead of our serial protocol service), src/mlperf_config.h, the
runtime's md/app_mlperf/ sources, and the benchmark's 115200 baud in platformio.ini.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from microdeploy.boards import Board
from microdeploy.mlperf.benchmarks import get_benchmark, payload_bytes
from microdeploy.model.reader import Model

APP = "mlperf-tiny"
RUNTIME_DIR = "app_mlperf"  # runtime_cpp/src/md/app_mlperf/
BAUD = 115200  # MLPerf Tiny performance mode (the harness's default for a DUT)
_TEMPLATES = Path(__file__).resolve().parent / "templates"

_INPUT_NOTES = {
    "uint8": "uint8 pixels; the tensor is byte - 128",
    "int8": "int8 features, copied as they are",
    "float32": "little-endian float32 features, quantized with the input's scale",
}


def is_mlperf(app: str) -> bool:
    return app == APP


def runtime_dirs(app: str) -> tuple[str, ...]:
    """Runtime folders (under md/) this app needs beyond the core."""
    return (RUNTIME_DIR,) if is_mlperf(app) else ()


def project_board(board: Board, app: str) -> Board:
    """The board as platformio.ini describes it: the monitor runs at the benchmark's baud."""
    return replace(board, serial_baud=BAUD) if is_mlperf(app) else board


def main_source() -> str:
    return (_TEMPLATES / "main.cpp").read_text(encoding="utf-8")


def generated_files(app: str, benchmark: str, model: Model) -> dict[str, str]:
    if not is_mlperf(app):
        return {}
    bench = get_benchmark(benchmark)
    config = (_TEMPLATES / "mlperf_config.h.in").read_text(encoding="utf-8")
    return {
        "src/mlperf_config.h": config.format(
            benchmark=bench.key,
            title=bench.title,
            enum=bench.enum,
            model_version=bench.model_version,
            input_note=_INPUT_NOTES[bench.payload_dtype],
            db_bytes=payload_bytes(bench, model),
        )
    }
