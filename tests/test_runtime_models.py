"""Every reference model under ../shared/models through our runtime (the sanitized host runner)
and through TFLM's own Python interpreter: outputs must be identical, on the ready-made test
inputs and on seeded random inputs; and our arena must not be larger than TFLM's.

A model whose kernels are not in runtime_cpp/src/md/kernels/ yet is skipped with the missing
ops named. audio_preprocessor_int8 is out of scope (TFLM's CUSTOM signal ops).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microdeploy import host_runtime, paths, reference
from microdeploy.model.reader import Model, read_model

# The models the shared README lists; any other .tflite found there is tested too.
KNOWN_MODELS = (
    "tflm/person_detect.tflite",
    "tflm/hello_world_int8.tflite",
    "tflm/hello_world_float.tflite",
    "tflm/micro_speech_quantized.tflite",
    "tflm/keyword_scrambled.tflite",
    "tflm/keyword_scrambled_8bit.tflite",
    "tflm/trained_lstm_int8.tflite",
    "tflm/simple_add_model.tflite",
    "mlperf_tiny/vww_96_int8.tflite",
    "mlperf_tiny/kws_ref_model.tflite",
    "mlperf_tiny/pretrainedResnet_quant.tflite",
    "mlperf_tiny/ad01_int8.tflite",
    "mlperf_tiny/str_ww_ref_model.tflite",
)
OUT_OF_SCOPE = {"tflm/audio_preprocessor_int8.tflite"}  # TFLM's CUSTOM signal ops


def _models() -> list[str]:
    folder = paths.shared_models_dir()
    found = sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*.tflite"))
    names = list(KNOWN_MODELS) + [n for n in found if n not in KNOWN_MODELS]
    return [n for n in names if n not in OUT_OF_SCOPE]


MODELS = _models()

# Ready-made inputs (shared/models/inputs) for the models they were made for.
TEST_INPUTS = {
    "tflm/person_detect.tflite": ("person_96x96x1_int8.npy", "no_person_96x96x1_int8.npy"),
    "mlperf_tiny/vww_96_int8.tflite": ("person_96x96x3_int8.npy", "no_person_96x96x3_int8.npy"),
}
RANDOM_SEEDS = (0, 1, 2)

pytestmark = pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")


def missing_kernels(model: Model) -> list[str]:
    """Ops the model uses that have no kernels/<op>.cc in this checkout."""
    kernels = paths.runtime_dir() / "src" / "md" / "kernels"
    names = sorted({op.name for op in model.operators})
    return [name for name in names if not (kernels / f"{name.lower()}.cc").is_file()]


def random_input(tensor_dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(tensor_dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return (rng.standard_normal(size=shape) * 2.0).astype(dtype)


def model_inputs(name: str, model: Model, shared: Path) -> list[tuple[str, list[np.ndarray]]]:
    cases = []
    for file in TEST_INPUTS.get(name, ()):
        cases.append((file, [np.load(shared / "inputs" / file)]))
    for seed in RANDOM_SEEDS:
        arrays = [random_input(t.dtype, t.shape, seed + 17 * i) for i, t in enumerate(model.inputs)]
        cases.append((f"random seed {seed}", arrays))
    return cases


def load(shared_models: Path, name: str) -> tuple[bytes, Model]:
    path = shared_models / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    data = path.read_bytes()
    model = read_model(data)
    missing = missing_kernels(model)
    if missing:
        pytest.skip(f"kernels not written yet: {', '.join(missing)}")
    return data, model


@pytest.mark.parametrize("name", MODELS)
def test_outputs_match_tflm(shared_models: Path, name: str) -> None:
    data, model = load(shared_models, name)
    for label, inputs in model_inputs(name, model, shared_models):
        ours = host_runtime.run_model(data, inputs).outputs
        theirs = reference.tflm_run(data, inputs)
        assert len(ours) == len(theirs)
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert a.dtype == b.dtype, f"{name} {label} output {index}: dtype"
            assert a.shape == b.shape, f"{name} {label} output {index}: shape"
            mismatch = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
            assert mismatch.size == 0, (
                f"{name} ({label}) output {index}: {mismatch.size} of {a.size} values differ,"
                f" first at {mismatch[0]}: ours {a.reshape(-1)[mismatch[0]]},"
                f" TFLM {b.reshape(-1)[mismatch[0]]}"
            )


@pytest.mark.parametrize("name", MODELS)
def test_arena_not_larger_than_tflm(shared_models: Path, name: str) -> None:
    data, _ = load(shared_models, name)
    ours = host_runtime.plan_model(data)
    theirs = reference.tflm_arena(data)
    print(
        f"{name}: ours {ours.arena_bytes} (head {ours.head}, tail {ours.tail}),"
        f" TFLM {theirs.total} (head {theirs.head}, tail {theirs.tail}),"
        f" ratio {ours.arena_bytes / theirs.total:.3f}"
    )
    assert ours.arena_bytes <= theirs.total


def test_person_detect_scores_known_images(shared_models: Path) -> None:
    """The README's published scores, as a sanity anchor beside the TFLM comparison."""
    data, _ = load(shared_models, "tflm/person_detect.tflite")
    person = np.load(shared_models / "inputs" / "person_96x96x1_int8.npy")
    ours = host_runtime.run_model(data, [person]).outputs[0]
    assert np.array_equal(ours, reference.tflm_run(data, [person])[0])
