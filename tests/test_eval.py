"""`microdeploy eval`: dataset listing, confusion matrices, errors, and end to end on the native
target and the emulated Cortex-M4 with the person_detection example (device == TFLM)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import CliResult, run_cli

from microdeploy import paths, reference
from microdeploy.build import build_project
from microdeploy.device.inputs import load_input
from microdeploy.device.state import load_state
from microdeploy.project.generate import init_project
from microdeploy.vww.evaluate import (
    EvalError,
    Sample,
    SampleResult,
    accuracy,
    confusion,
    list_dataset,
    project_labels,
)

EXAMPLE = paths.examples_dir() / "person_detection"
LABELS = ("no_person", "person")


def _assert_one_line_error(result: CliResult, text: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
    assert "hint: " in result.stderr


def _dataset(root: Path) -> Path:
    """person/ and no_person/ with the example's images (and ../shared's when present)."""
    for label in LABELS:
        (root / label).mkdir(parents=True)
        shutil.copyfile(EXAMPLE / f"{label}.bmp", root / label / f"example_{label}.bmp")
        shared = paths.shared_models_dir() / "images" / f"{label}.bmp"
        if shared.is_file():
            shutil.copyfile(shared, root / label / f"tflm_{label}.bmp")
    return root


# ---- no device needed ------------------------------------------------------------------------


def test_confusion_and_accuracy() -> None:
    matrix = confusion([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], 2)
    assert matrix == [[1, 1], [1, 2]]
    assert accuracy(matrix) == pytest.approx(3 / 5)
    assert accuracy([[0, 0], [0, 0]]) == 0.0


def test_sample_match_is_bit_exact() -> None:
    sample = Sample(Path("x.bmp"), 1)
    a = np.array([[-113, 113]], np.int8)
    assert SampleResult(sample, a, a.copy(), 1).match
    assert not SampleResult(sample, a, np.array([[-113, 112]], np.int8), 1).match
    assert not SampleResult(sample, a, a.astype(np.int16), 1).match
    assert SampleResult(sample, a, a, 1).device_class == 1


def test_list_dataset_interleaves_classes_and_limits(tmp_path: Path) -> None:
    for label, count in (("no_person", 3), ("person", 2)):
        (tmp_path / label).mkdir()
        for i in range(count):
            (tmp_path / label / f"{i}.bmp").write_bytes(b"")
    (tmp_path / "person" / "notes.txt").write_text("not an input")
    (tmp_path / "manifest.json").write_text("{}")
    samples = list_dataset(tmp_path, LABELS)
    assert [(s.label, s.path.name) for s in samples] == [
        (0, "0.bmp"),
        (1, "0.bmp"),
        (0, "1.bmp"),
        (1, "1.bmp"),
        (0, "2.bmp"),
    ]
    assert [s.label for s in list_dataset(tmp_path, LABELS, limit=2)] == [0, 1]


def test_list_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        list_dataset(tmp_path / "nope", LABELS)
    with pytest.raises(EvalError, match="none of the class folders"):
        list_dataset(tmp_path, LABELS)
    (tmp_path / "person").mkdir()
    (tmp_path / "person" / "a.heic").write_bytes(b"")
    with pytest.raises(EvalError, match=r"found 1 \.heic"):
        list_dataset(tmp_path, LABELS)


def test_labels_come_from_the_project(tmp_path: Path) -> None:
    project = tmp_path / "p"
    init_project(project, "native", example="person_detection")
    assert project_labels(project, 2) == LABELS
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert manifest["app"] == "image-classifier" and manifest["labels"] == list(LABELS)
    hello = tmp_path / "h"
    init_project(hello, "native", example="hello_world")
    with pytest.raises(EvalError, match="no class labels"):
        project_labels(hello, 3)


def test_eval_errors_are_one_line_before_any_device_starts(tmp_path: Path) -> None:
    project = tmp_path / "p"
    init_project(project, "native", example="person_detection")
    _assert_one_line_error(
        run_cli("eval", str(project), "--dataset", str(tmp_path / "missing")), "does not exist"
    )
    _assert_one_line_error(
        run_cli("eval", str(tmp_path / "nothing"), "--dataset", str(tmp_path)), "does not exist"
    )
    dataset = _dataset(tmp_path / "ds")
    _assert_one_line_error(
        run_cli("eval", str(project), "--dataset", str(dataset), "--limit", "0"), "--limit"
    )
    assert load_state(project) is None  # nothing was started


# ---- on a device -----------------------------------------------------------------------------


def _reference_classes(model: bytes, files: list[Path]) -> list[int]:
    outputs = [reference.tflm_run(model, [load_input(f, "int8", (1, 96, 96, 1))])[0] for f in files]
    return [int(np.argmax(o.reshape(-1))) for o in outputs]


@pytest.fixture(
    scope="module", params=["native", pytest.param("mps2-an386", marks=pytest.mark.qemu)]
)
def built_example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    if request.param != "native" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    project = tmp_path_factory.mktemp(request.param) / "person"
    init_project(project, request.param, example="person_detection")
    build_project(project)
    return project


@pytest.mark.slow
def test_eval_device_agrees_with_tflm(built_example: Path, tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "ds")
    result = run_cli("eval", str(built_example), "--dataset", str(dataset), "--json")
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    files = sorted(dataset.glob("*/*.bmp"))
    assert report["images"] == len(files) and report["agree"] is True
    model = (built_example / "model" / "model.tflite").read_bytes()
    # Every device output is TFLM's, recomputed here on the same preprocessed tensor.
    for row in report["results"]:
        tensor = load_input(Path(row["file"]), "int8", (1, 96, 96, 1))
        assert row["output"] == reference.tflm_run(model, [tensor])[0].reshape(-1).tolist()
        assert row["match"] is True and row["us"] > 0
    truth = [LABELS.index(row["label"]) for row in report["results"]]
    predicted = _reference_classes(model, [Path(row["file"]) for row in report["results"]])
    assert report["device"]["confusion"] == confusion(truth, predicted, 2)
    assert report["reference"]["confusion"] == report["device"]["confusion"]
    assert report["arena_used"] > 0
    assert report["stream_faults"] == 0  # a clean line: nothing to recover from
    assert load_state(built_example) is None  # the device eval started was stopped again


@pytest.mark.slow
def test_eval_cli_prints_matrices_and_limit(built_example: Path, tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "ds")
    result = run_cli("eval", str(built_example), "--dataset", str(dataset), "--limit", "2")
    assert result.code == 0, result.stdout + result.stderr
    assert "2 images on" in result.stdout
    assert "device: accuracy" in result.stdout and "TFLM reference: accuracy" in result.stdout
    assert "device == TFLM bit for bit on all 2 images" in result.stdout


@pytest.fixture
def flashed(built_example: Path) -> Iterator[Path]:
    flashed = run_cli("flash", str(built_example))
    assert flashed.code == 0, flashed.stdout + flashed.stderr
    yield built_example
    run_cli("flash", str(built_example), "--stop")


@pytest.mark.slow
def test_eval_uses_a_flashed_device_and_leaves_it_running(flashed: Path, tmp_path: Path) -> None:
    state = load_state(flashed)
    assert state is not None
    dataset = _dataset(tmp_path / "ds")
    result = run_cli("eval", str(flashed), "--dataset", str(dataset), "--json")
    assert result.code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["agree"] is True
    after = load_state(flashed)
    assert after is not None and after.pid == state.pid and after.alive
