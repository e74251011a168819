"""What kind of application a project is, and its class labels.

`init --app image-classifier --labels no_person,person` (or an example's `example.json`)
records them in the project manifest; host tools (`eval`, and `run`/`monitor` when they want
label names) read them back with `project_app`. The device reports class indices only, so a
label change never needs a rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from microdeploy.errors import MicrodeployError, ProjectError
from microdeploy.model.reader import Model, read_model

GENERIC = "generic"
IMAGE_CLASSIFIER = "image-classifier"
MLPERF_TINY = "mlperf-tiny"  # microdeploy/mlperf/: the MLPerf Tiny device under test
APPS = (GENERIC, IMAGE_CLASSIFIER, MLPERF_TINY)
EXAMPLE_META = "example.json"


@dataclass(frozen=True)
class AppSpec:
    app: str = GENERIC
    labels: tuple[str, ...] = ()
    # Quantization of output 0 (scale, zero point), to show scores as real numbers.
    output_quantization: tuple[float, int] | None = None
    benchmark: str = ""  # --benchmark of an mlperf-tiny app (vww, kws, ic, ad)

    def label(self, index: int) -> str:
        return self.labels[index] if 0 <= index < len(self.labels) else str(index)

    def score(self, raw: float) -> float:
        """A raw (quantized) output value as the real number it stands for."""
        if self.output_quantization is None:
            return raw
        scale, zero_point = self.output_quantization
        return (raw - zero_point) * scale


def parse_labels(text: str | None) -> tuple[str, ...]:
    """`no_person,person` -> ("no_person", "person"); None or "" -> ()."""
    if not text:
        return ()
    labels = tuple(part.strip() for part in text.split(","))
    if any(not label for label in labels):
        raise ProjectError(
            f"--labels {text!r} has an empty label", hint="e.g. --labels no_person,person"
        )
    return labels


def example_app(folder: Path) -> AppSpec:
    """The app of an example folder from its example.json (generic when it has none)."""
    path = folder / EXAMPLE_META
    if not path.is_file():
        return AppSpec()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AppSpec(str(data.get("app", GENERIC)), tuple(str(x) for x in data.get("labels", ())))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ProjectError(
            f"{path} is not a valid example description ({exc})",
            hint='it holds e.g. {"app": "image-classifier", "labels": ["no_person", "person"]}',
        ) from None


def check_app(spec: AppSpec, model: Model) -> AppSpec:
    """The spec, after checking it fits the model (labels = classes of output 0)."""
    if spec.app not in APPS:
        raise ProjectError(f"unknown app '{spec.app}'", hint=f"use one of: {', '.join(APPS)}")
    if spec.benchmark and spec.app != MLPERF_TINY:
        raise ProjectError(
            "--benchmark goes with --app mlperf-tiny", hint="add --app mlperf-tiny or drop it"
        )
    if spec.app == MLPERF_TINY:
        from microdeploy.mlperf import benchmarks

        benchmarks.check_model(benchmarks.get_benchmark(spec.benchmark), model)
    if spec.app == IMAGE_CLASSIFIER:
        if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
            shapes = ", ".join(str(list(t.shape)) for t in model.inputs)
            raise ProjectError(
                f"--app {IMAGE_CLASSIFIER} needs one image input [1, H, W, C]; the model has "
                f"{shapes or 'none'}",
                hint="leave out --app for other models",
            )
    if spec.labels:
        classes = model.outputs[0].shape[-1] if model.outputs and model.outputs[0].shape else 0
        if len(spec.labels) != classes:
            raise ProjectError(
                f"{len(spec.labels)} labels given, the model's output 0 has {classes} classes",
                hint="give one label per class, in class order",
            )
    return spec


def manifest_entry(spec: AppSpec) -> dict[str, object]:
    entry: dict[str, object] = {"app": spec.app, "labels": list(spec.labels)}
    if spec.benchmark:
        entry["benchmark"] = spec.benchmark
    return entry


def project_app(manifest: dict) -> AppSpec:
    """The app recorded by init (generic without labels for older manifests)."""
    labels = manifest.get("labels") or ()
    return AppSpec(
        str(manifest.get("app") or GENERIC),
        tuple(str(x) for x in labels),
        benchmark=str(manifest.get("benchmark") or ""),
    )


def app_of_project(project: Path | None) -> AppSpec:
    """The project's app, or the generic one when there is no readable manifest (a bare --port)."""
    if project is None:
        return AppSpec()
    try:
        manifest = json.loads((project / "microdeploy.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return AppSpec()
    if not isinstance(manifest, dict):
        return AppSpec()
    spec = project_app(manifest)
    try:
        output = read_model(project / "model" / "model.tflite").outputs[0]
    except (MicrodeployError, IndexError):
        return spec
    q = output.quantization
    if q is None or len(q.scale) != 1 or not q.zero_point:
        return spec
    quantization = (float(q.scale[0]), int(q.zero_point[0]))
    return AppSpec(spec.app, spec.labels, quantization, spec.benchmark)
