"""`microdeploy eval`: a labelled image folder through the device and through TFLM.

The dataset is a folder with one subfolder per class, named by the project's labels
(`person/`, `no_person/` as `vww-dataset` writes them). Every file is turned into the model's
input by the same function `microdeploy run` uses (microdeploy.device.inputs.load_input), sent
to the device over the serial protocol, and run by TFLM's interpreter on the host on the very
same tensor. The report has accuracy and a confusion matrix for both, and the images where
their outputs differ (they must not: the runtime is bit-exact with TFLM).

The device is whatever `microdeploy flash` started for the project, a --port, or, for the
native and emulated boards, a device this module starts itself and stops afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microdeploy import reference
from microdeploy.device.flash import project_device
from microdeploy.device.hil import check_model
from microdeploy.device.inputs import load_input
from microdeploy.errors import DeviceError, MicrodeployError
from microdeploy.images import PHOTO_SUFFIXES
from microdeploy.model.reader import read_model
from microdeploy.project import app_meta
from microdeploy.project.generate import MODEL_COPY, load_manifest
from microdeploy.protocol.session import Device, DeviceInfo

# What load_input reads: TFLM-convention BMP images, photos (PNG, PGM/PPM, JPEG with Pillow;
# resized and converted), .npy arrays and raw tensor bytes.
INPUT_SUFFIXES = (".bmp", ".npy", ".bin", ".raw", *PHOTO_SUFFIXES)
VWW_LABELS = ("no_person", "person")


class EvalError(MicrodeployError):
    """A dataset folder or project that eval cannot use."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass(frozen=True)
class SampleResult:
    sample: Sample
    device_output: np.ndarray
    reference_output: np.ndarray
    us: int

    @property
    def device_class(self) -> int:
        return int(np.argmax(self.device_output.reshape(-1)))

    @property
    def reference_class(self) -> int:
        return int(np.argmax(self.reference_output.reshape(-1)))

    @property
    def match(self) -> bool:
        got, want = self.device_output, self.reference_output
        return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def confusion(labels: list[int], predicted: list[int], classes: int) -> list[list[int]]:
    """matrix[true][predicted] counts."""
    matrix = [[0] * classes for _ in range(classes)]
    for truth, guess in zip(labels, predicted, strict=True):
        if 0 <= guess < classes:
            matrix[truth][guess] += 1
    return matrix


def accuracy(matrix: list[list[int]]) -> float:
    total = sum(map(sum, matrix))
    return sum(matrix[i][i] for i in range(len(matrix))) / total if total else 0.0


@dataclass
class EvalReport:
    labels: tuple[str, ...]
    info: DeviceInfo
    results: list[SampleResult] = field(default_factory=list)
    stream_faults: int = 0  # garbage/corrupt/lost records seen (and recovered from) on the line

    def _matrix(self, which: str) -> list[list[int]]:
        truth = [r.sample.label for r in self.results]
        attr = "device_class" if which == "device" else "reference_class"
        return confusion(truth, [getattr(r, attr) for r in self.results], len(self.labels))

    @property
    def device_confusion(self) -> list[list[int]]:
        return self._matrix("device")

    @property
    def reference_confusion(self) -> list[list[int]]:
        return self._matrix("reference")

    @property
    def mismatches(self) -> list[SampleResult]:
        return [r for r in self.results if not r.match]

    @property
    def agree(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, object]:
        us = [r.us for r in self.results]
        return {
            "labels": list(self.labels),
            "images": len(self.results),
            "board": self.info.board,
            "arena_used": self.info.arena_used,
            "device": {
                "accuracy": accuracy(self.device_confusion),
                "confusion": self.device_confusion,
            },
            "reference": {
                "accuracy": accuracy(self.reference_confusion),
                "confusion": self.reference_confusion,
            },
            "agree": self.agree,
            "stream_faults": self.stream_faults,
            "mismatches": [str(r.sample.path) for r in self.mismatches],
            "mean_us": sum(us) / len(us) if us else None,
            "results": [
                {
                    "file": str(r.sample.path),
                    "label": self.labels[r.sample.label],
                    "device": self.labels[r.device_class],
                    "reference": self.labels[r.reference_class],
                    "output": r.device_output.reshape(-1).tolist(),
                    "match": r.match,
                    "us": r.us,
                }
                for r in self.results
            ],
        }


def project_labels(project: Path, classes: int) -> tuple[str, ...]:
    """The project's labels; a two-class model without any is taken as VWW's."""
    labels = app_meta.project_app(load_manifest(project)).labels
    if labels:
        return labels
    if classes == 2:
        return VWW_LABELS
    raise EvalError(
        f"the project has no class labels and its model has {classes} classes",
        f"re-run init with --labels (one per class), e.g. `microdeploy init {project} "
        "--board B --model M --app image-classifier --labels a,b,c`",
    )


def list_dataset(folder: Path, labels: tuple[str, ...], limit: int | None = None) -> list[Sample]:
    """Files of folder/<label>/ in a fixed order, classes interleaved so --limit keeps both."""
    if not folder.is_dir():
        raise EvalError(f"dataset folder {folder} does not exist", "check --dataset")
    present = [label for label in labels if (folder / label).is_dir()]
    if not present:
        raise EvalError(
            f"{folder} has none of the class folders {', '.join(labels)}",
            "make one with `microdeploy vww-dataset`, or put images in <dataset>/<label>/",
        )
    per_class: list[list[Sample]] = []
    skipped: dict[str, int] = {}
    for index, label in enumerate(labels):
        files = (
            sorted(p for p in (folder / label).glob("*") if p.is_file()) if label in present else []
        )
        usable = [p for p in files if p.suffix.lower() in INPUT_SUFFIXES]
        for p in files:
            if p.suffix.lower() not in INPUT_SUFFIXES:
                skipped[p.suffix.lower() or "(none)"] = skipped.get(p.suffix.lower(), 0) + 1
        per_class.append([Sample(p, index) for p in usable])
    samples = [s for group in _interleave(per_class) for s in group]
    if not samples:
        found = ", ".join(f"{n} {suffix}" for suffix, n in sorted(skipped.items())) or "no files"
        raise EvalError(
            f"no usable inputs in {folder} (found {found})",
            "eval reads PNG, PGM/PPM (JPEG with Pillow: pip install pillow), 8-bit BMP in "
            "the model's input size (TFLM's convention), .npy arrays or raw tensor bytes",
        )
    return samples[:limit] if limit is not None else samples


def _interleave(groups: list[list[Sample]]) -> Iterator[list[Sample]]:
    longest = max((len(g) for g in groups), default=0)
    for i in range(longest):
        yield [g[i] for g in groups if i < len(g)]


def _dataset_for(
    project: Path, dataset: Path, limit: int | None
) -> tuple[list[Sample], tuple[str, ...]]:
    """The samples and labels, checked against the project's model before any device starts."""
    path = project / MODEL_COPY
    try:
        model = read_model(path)
    except MicrodeployError as exc:
        raise EvalError(
            f"{path}: {exc.message}", f"run `microdeploy init {project}` again"
        ) from None
    if len(model.inputs) != 1 or len(model.outputs) < 1:
        raise EvalError(
            f"eval needs a model with one input and an output; this one has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs",
            "use `microdeploy run` for other models",
        )
    shape = model.outputs[0].shape
    labels = project_labels(project, int(np.prod(shape)) if shape else 1)
    return list_dataset(dataset, labels, limit), labels


def evaluate(
    project: Path,
    dataset: Path,
    *,
    port: str | None = None,
    baud: int = 115200,
    limit: int | None = None,
    timeout: float = 30.0,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[SampleResult], None] | None = None,
) -> EvalReport:
    project = project.resolve()
    load_manifest(project)
    samples, labels = _dataset_for(project, dataset, limit)
    if limit is not None and limit < 1:
        raise EvalError(f"--limit {limit} is not a positive number", "e.g. --limit 100")
    if not reference.available():
        raise EvalError(
            "eval compares the device with TFLM's interpreter, which is not installed",
            "pip install tflite-micro",
        )
    with project_device(project, port) as url, Device.open(url, baud) as device:
        info = device.info(timeout=timeout)
        if not info.ready:
            raise DeviceError(
                f"the device could not set the model up: {info.error or info.status}",
                "see docs/protocol.md; e.g. a larger arena with `microdeploy init --arena`",
            )
        model = check_model(project, info)
        tensor = info.inputs[0]
        if on_start is not None:
            on_start(len(samples))
        restore_auto = info.auto_ms
        if restore_auto:
            device.set_auto(0)
        report = EvalReport(labels, info)
        for sample in samples:
            array = load_input(sample.path, tensor.dtype, tensor.shape)
            device.load_input(tensor.index, array.tobytes(), timeout=timeout)
            run = device.run(1, outputs=True, timeout=timeout)
            expected = reference.tflm_run(model, [array])
            result = SampleResult(sample, run.outputs[0], expected[0], run.inferences[-1].us)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
        if restore_auto:
            device.set_auto(restore_auto)
        report.stream_faults = len(device.events)
        return report
