"""`init --app mlperf-tiny --benchmark B`: what it generates and vendors, and the one-line
errors of init and of `microdeploy mlperf` before any device is started."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy.mlperf import benchmarks
from microdeploy.model.reader import read_model
from microdeploy.project.generate import init_project

VWW = "mlperf_tiny/vww_96_int8.tflite"
KWS = "mlperf_tiny/kws_ref_model.tflite"
AD = "mlperf_tiny/ad01_int8.tflite"


@pytest.mark.parametrize(
    ("bench", "model", "db_bytes"),
    [("vww", VWW, 96 * 96 * 3), ("kws", KWS, 49 * 10), ("ad", AD, 640 * 4)],
)
def test_init_generates_the_dut(
    shared_models: Path, tmp_path: Path, bench: str, model: str, db_bytes: int
) -> None:
    project = tmp_path / "p"
    result = init_project(
        project, "native", model=shared_models / model, app="mlperf-tiny", benchmark=bench
    )
    assert result.app.app == "mlperf-tiny" and result.app.benchmark == bench
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert manifest["app"] == "mlperf-tiny" and manifest["benchmark"] == bench
    config = (project / "src" / "mlperf_config.h").read_text()
    enum = benchmarks.get_benchmark(bench).enum
    assert f"#define MD_MLPERF_BENCHMARK md::mlperf::Benchmark::{enum}\n" in config
    assert f'#define MD_MLPERF_MODEL_VERSION "{bench}01"\n' in config
    assert f"#define MD_MLPERF_DB_BYTES {db_bytes}\n" in config
    assert '#include "md/app_mlperf/dut.h"' in (project / "src" / "main.cpp").read_text()
    assert (project / "lib/md_runtime/src/md/app_mlperf/dut.cc").is_file()
    assert "monitor_speed = 115200\n" in (project / "platformio.ini").read_text()


def test_generic_project_has_no_dut_and_reinit_removes_it(shared_models: Path, tmp_path: Path):
    project = tmp_path / "p"
    init_project(project, "native", model=shared_models / VWW, app="mlperf-tiny", benchmark="vww")
    result = init_project(project, "native", model=shared_models / VWW, force=True)
    assert "src/mlperf_config.h" in result.removed
    assert not list((project / "lib/md_runtime/src/md").glob("app_mlperf/*"))  # files removed
    assert '#include "md/app/service.h"' in (project / "src" / "main.cpp").read_text()
    assert "benchmark" not in json.loads((project / "microdeploy.json").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", VWW, "--app", "mlperf-tiny"], "--benchmark is missing"),
        (["--model", VWW, "--app", "mlperf-tiny", "--benchmark", "sww"], "unknown MLPerf Tiny"),
        (["--model", VWW, "--benchmark", "vww"], "--benchmark goes with --app mlperf-tiny"),
        (
            ["--model", KWS, "--app", "mlperf-tiny", "--benchmark", "ad"],
            "an output of another size than its input",
        ),
        (
            [
                "--model",
                "tflm/hello_world_float.tflite",
                "--app",
                "mlperf-tiny",
                "--benchmark",
                "kws",
            ],
            "a float32 input and a float32 output",
        ),
    ],
)
def test_init_errors(shared_models: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(shared_models / a) if a.endswith(".tflite") else a for a in args]
    project = tmp_path / "p"
    result = run_cli("init", str(project), "--board", "native", *args)
    assert result.code == 1
    assert message in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not project.exists()  # refused before writing anything


def test_mlperf_command_errors_before_starting_a_device(shared_models: Path, tmp_path: Path):
    mlperf_project = tmp_path / "m"
    init_project(
        mlperf_project, "native", model=shared_models / VWW, app="mlperf-tiny", benchmark="vww"
    )
    generic = tmp_path / "g"
    init_project(generic, "native", model=shared_models / VWW)
    short = tmp_path / "short.bin"
    short.write_bytes(b"\x00" * 100)
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((1, 96, 96, 3), dtype=np.float32))
    cases = [
        ([str(mlperf_project)], "no input given"),
        ([str(generic), "--input", str(short)], "not an MLPerf Tiny one"),
        ([str(mlperf_project), "--input", str(short)], "100 bytes, the vww benchmark sends 27648"),
        ([str(mlperf_project), "--input", str(floats)], "float32 array of 27648 values"),
        ([str(mlperf_project), "--input", str(tmp_path / "nope.bin")], "does not exist"),
    ]
    for args, message in cases:
        result = run_cli("mlperf", *args)
        assert result.code == 1, (args, result.stdout)
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (mlperf_project / ".microdeploy" / "device.json").exists()  # nothing started


def test_payload_round_trip(shared_models: Path) -> None:
    """payload_from_tensor is tensor_from_payload's inverse (what `mlperf --input x.npy` sends)."""
    model = read_model(shared_models / VWW)
    bench = benchmarks.get_benchmark("vww")
    tensor = np.random.default_rng(1).integers(-128, 128, (1, 96, 96, 3)).astype(np.int8)
    payload = benchmarks.payload_from_tensor(bench, tensor)
    assert np.array_equal(benchmarks.tensor_from_payload(bench, model, payload), tensor)
    assert payload[:4] == bytes((tensor.reshape(-1)[:4].astype(np.int16) + 128).tolist())
