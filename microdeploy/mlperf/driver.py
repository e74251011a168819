"""`microdeploy mlperf`: runs MLPerf Tiny inputs through a project's device-under-test firmware
the way mlcommons/tiny's runner does (db load + 31-byte db chunks, infer N W, results), and
checks each results line against TFLM's interpreter on the same input tensor when tflite-micro
is installed.

Inputs: files holding the bytes the harness sends (the benchmark's dataset .bin files: uint8
pixels for vww/ic, int8 features for kws, float32 features for ad), `.npy` arrays (the model's
int8 input tensor, uint8 pixels, or float32 features for ad) or, for vww/ic, photos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microdeploy import images, reference
from microdeploy.device.flash import project_device
from microdeploy.device.inputs import InputError, load_input
from microdeploy.errors import DeviceError, ProjectError
from microdeploy.mlperf import benchmarks
from microdeploy.mlperf.client import DutClient
from microdeploy.model.reader import Model, read_model
from microdeploy.project.app_meta import MLPERF_TINY, project_app
from microdeploy.project.generate import load_manifest


@dataclass(frozen=True)
class MlperfProject:
    folder: Path
    bench: benchmarks.Benchmark
    model: Model
    model_bytes: bytes


@dataclass
class InputRun:
    file: str
    payload_bytes: int
    iterations: int
    warmups: int
    lap_us: tuple[int, ...]
    scores: tuple[float, ...]
    results_line: str
    reference_line: str | None = None  # what TFLM's outputs give, formatted the same way

    @property
    def elapsed_us(self) -> int | None:
        return self.lap_us[1] - self.lap_us[0] if len(self.lap_us) >= 2 else None

    @property
    def us_per_inference(self) -> float | None:
        elapsed = self.elapsed_us
        return None if elapsed is None else elapsed / self.iterations

    @property
    def match(self) -> bool | None:
        return None if self.reference_line is None else self.reference_line == self.results_line

    def as_dict(self) -> dict[str, object]:
        return {
            "input": self.file,
            "bytes": self.payload_bytes,
            "iterations": self.iterations,
            "warmups": self.warmups,
            "lap_us": list(self.lap_us),
            "elapsed_us": self.elapsed_us,
            "us_per_inference": self.us_per_inference,
            "scores": list(self.scores),
            "results_line": self.results_line,
            "reference_line": self.reference_line,
            "match": self.match,
        }


@dataclass
class MlperfReport:
    benchmark: str
    name: str
    profile: dict[str, str]
    runs: list[InputRun] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "benchmark": self.benchmark,
            "name": self.name,
            "profile": self.profile,
            "runs": [run.as_dict() for run in self.runs],
        }


def open_project(folder: Path) -> MlperfProject:
    manifest = load_manifest(folder)
    spec = project_app(manifest)
    if spec.app != MLPERF_TINY:
        raise ProjectError(
            f"{folder} is a '{spec.app}' project, not an MLPerf Tiny one",
            "create it with `microdeploy init PROJECT --app mlperf-tiny --benchmark vww ...`",
        )
    bench = benchmarks.get_benchmark(spec.benchmark)
    model_bytes = (folder / "model" / "model.tflite").read_bytes()
    return MlperfProject(folder, bench, read_model(model_bytes), model_bytes)


def load_payload(project: MlperfProject, path: Path) -> bytes:
    """The bytes the harness would send for `path` (see the module docstring)."""
    bench, tensor = project.bench, project.model.inputs[0]
    shape = tuple(tensor.shape)
    size = benchmarks.payload_bytes(bench, project.model)
    if not path.is_file():
        raise InputError(f"input file {path} does not exist", "check the --input path")
    suffix = path.suffix.lower()
    if suffix in images.PHOTO_SUFFIXES or suffix == ".bmp":
        if bench.payload_dtype != "uint8":
            raise InputError(
                f"{path}: an image, but the {bench.key} benchmark takes {bench.payload_dtype} "
                "features",
                "give the benchmark's .bin file or a .npy array",
            )
        return benchmarks.payload_from_tensor(bench, load_input(path, "int8", shape))
    if suffix == ".npy":
        array = np.load(path, allow_pickle=False) if path.stat().st_size else np.zeros(0)
        if array.size * array.dtype.itemsize == size and array.dtype == np.dtype(
            bench.payload_dtype
        ):
            return array.astype(array.dtype.newbyteorder("<")).tobytes()
        if array.dtype == np.int8 and bench.payload_dtype != "float32" and array.size == size:
            return benchmarks.payload_from_tensor(bench, array)
        raise InputError(
            f"{path}: {array.dtype} array of {array.size} values; the {bench.key} benchmark "
            f"sends {size // bench.payload_itemsize} {bench.payload_dtype} values",
            "give the input tensor (int8) or the harness's values "
            f"({bench.payload_dtype}) in the input's shape {list(shape)}",
        )
    data = path.read_bytes()
    if len(data) != size:
        raise InputError(
            f"{path}: {len(data)} bytes, the {bench.key} benchmark sends {size} per input",
            f"raw files hold the harness's bytes ({bench.payload_dtype} values) and nothing else",
        )
    return data


def reference_line(project: MlperfProject, payload: bytes) -> str | None:
    if not reference.available():
        return None
    tensor = benchmarks.tensor_from_payload(project.bench, project.model, payload)
    outputs = reference.tflm_run(project.model_bytes, [tensor])
    return benchmarks.expected_results(project.bench, project.model, payload, outputs[0])


def run_mlperf(
    folder: Path,
    inputs: list[Path],
    *,
    port: str | None = None,
    baud: int = 115200,
    iterations: int = 1,
    warmups: int = 0,
    timeout: float = 30.0,
    compare: bool = True,
    on_result: Callable[[InputRun], None] | None = None,
) -> MlperfReport:
    if not inputs:
        raise InputError("no input given", "pass one or more --input FILE")
    if iterations < 1 or warmups < 0:
        raise InputError(
            f"--iterations {iterations} / --warmups {warmups}: need iterations >= 1, warmups >= 0",
            "e.g. --iterations 1 --warmups 0",
        )
    project = open_project(folder.resolve())
    payloads = [(path, load_payload(project, path)) for path in inputs]  # fail before starting
    with project_device(project.folder, port) as url, DutClient.open(url, baud) as dut:
        dut.sync(timeout=max(timeout, 10.0))  # past the boot lines of a device started here
        report = MlperfReport(project.bench.key, dut.name(), dut.profile())
        for path, payload in payloads:
            dut.load(payload)
            inferred = dut.infer(iterations, warmups, timeout=timeout)
            results = [x for x in dut.command("results").lines if x.startswith("m-results-")]
            if not results or len(inferred.lap_us) != 2:
                raise DeviceError(
                    "the device's infer/results replies lack m-lap-us or m-results lines",
                    "is this an MLPerf Tiny firmware? see docs/mlperf.md",
                )
            run = InputRun(
                file=str(path),
                payload_bytes=len(payload),
                iterations=iterations,
                warmups=warmups,
                lap_us=inferred.lap_us,
                scores=inferred.scores,
                results_line=results[0],
                reference_line=reference_line(project, payload) if compare else None,
            )
            report.runs.append(run)
            if on_result is not None:
                on_result(run)
        return report
