"""The models `bench` measures and the inputs it feeds them.

`--all` takes every .tflite under ../shared/models (except audio_preprocessor, which needs TFLM's
custom signal ops) and the model of every example project. A model is named by its path relative
to those folders without the extension: `tflm/person_detect`, `examples/hello_world`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microdeploy import paths
from microdeploy.errors import ModelError
from microdeploy.model.reader import Model

# Not runnable by TFLM's Python interpreter without its signal library, nor by our runtime.
EXCLUDED = frozenset({"tflm/audio_preprocessor_int8"})
INPUT_SEED = 0


@dataclass(frozen=True)
class BenchModel:
    name: str
    path: Path


def shared_models() -> list[BenchModel]:
    root = paths.shared_models_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*.tflite")):
        name = path.relative_to(root).with_suffix("").as_posix()
        if name not in EXCLUDED:
            found.append(BenchModel(name, path))
    return found


def example_models() -> list[BenchModel]:
    return [
        BenchModel(f"examples/{path.parent.name}", path)
        for path in sorted(paths.examples_dir().glob("*/model.tflite"))
    ]


def all_models() -> list[BenchModel]:
    return shared_models() + example_models()


def resolve(spec: str) -> BenchModel:
    """A model file path, or a known name (`tflm/person_detect`, `person_detect`,
    `examples/hello_world`, `hello_world`)."""
    path = Path(spec)
    if path.is_file():
        resolved = path.resolve()
        for model in all_models():
            if model.path.resolve() == resolved:
                return model
        return BenchModel(path.stem, resolved)
    known = all_models()
    for model in known:
        if spec in (model.name, model.name.split("/", 1)[-1]):
            return model
    names = ", ".join(m.name for m in known) or "(none: ../shared/models is absent)"
    raise ModelError(f"no model file or known model named '{spec}'", hint=f"known: {names}")


def bench_inputs(model: Model, seed: int = INPUT_SEED) -> list[np.ndarray]:
    """Seeded random inputs over each input's whole value range (the same on every target)."""
    arrays = []
    for index, tensor in enumerate(model.inputs):
        if not tensor.dtype:
            raise ModelError(f"input {index} has a type numpy cannot hold", hint="")
        rng = np.random.default_rng(seed + 17 * index)
        dtype = np.dtype(tensor.dtype)
        shape = tuple(int(d) for d in tensor.shape)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype))
        elif dtype == np.bool_:
            arrays.append(rng.integers(0, 2, size=shape).astype(np.bool_))
        else:
            arrays.append(rng.standard_normal(size=shape).astype(dtype))
    return arrays
