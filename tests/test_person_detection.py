"""Person detection end to end.

- Our own example (example_projects/person_detection): a VWW-shaped int8 network made by
  make_model.py; builds for native and the emulated Cortex-M4 inside the VWW budget (<= 250 KB
  RAM, <= 250 KB flash beyond the model) and runs bit-exactly like TFLM.
- The real models from ../shared (tflm/person_detect, mlperf_tiny/vww_96_int8) on the host
  runner, the native firmware and the emulated Cortex-M4: the same scores as TFLM's interpreter
  (computed live) on ../shared's .npy tensors and BMP images, and the right class.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy import host_runtime, paths, reference
from microdeploy.build import BuildResult, build_project
from microdeploy.device.flash import flash, stop_device
from microdeploy.device.hil import run_inputs
from microdeploy.device.inputs import load_input
from microdeploy.model.reader import read_model
from microdeploy.project.generate import init_project

EXAMPLE = paths.examples_dir() / "person_detection"
LABELS = ("no_person", "person")
VWW_BUDGET = 250 * 1024
REAL_MODELS = {
    "person_detect": "tflm/person_detect.tflite",
    "vww_96": "mlperf_tiny/vww_96_int8.tflite",
}


def _needs_tflm() -> None:
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")


def _make_model_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pd_make_model", EXAMPLE / "make_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _structure(model: bytes) -> list[tuple]:
    m = read_model(model)
    return [
        (op.name, [m.tensors[i].shape for i in op.inputs if i >= 0], m.tensors[op.outputs[0]].shape)
        for op in m.operators
    ]


def _inputs_for(name: str, shared: Path) -> list[tuple[Path, int]]:
    """(file, expected class): ../shared's ready tensors and its BMP images."""
    channels = read_model(shared / REAL_MODELS[name]).inputs[0].shape[-1]
    files = []
    for label in LABELS:
        files.append(
            (shared / "inputs" / f"{label}_96x96x{channels}_int8.npy", LABELS.index(label))
        )
        files.append((shared / "images" / f"{label}.bmp", LABELS.index(label)))
    return files


def _example_inputs() -> list[tuple[Path, int]]:
    return [(EXAMPLE / f"{label}.bmp", LABELS.index(label)) for label in LABELS]


# ---- our example's model ---------------------------------------------------------------------


def test_example_model_is_a_vww_network() -> None:
    model = read_model(EXAMPLE / "model.tflite")
    assert {op.name for op in model.operators} == {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "AVERAGE_POOL_2D",
        "RESHAPE",
        "SOFTMAX",
    }
    (image,) = model.inputs
    (scores,) = model.outputs
    assert (image.shape, image.type.name) == ((1, 96, 96, 1), "INT8")
    assert (scores.shape, scores.type.name) == ((1, 2), "INT8")
    assert scores.quantization.scale == pytest.approx((1 / 256,))
    assert scores.quantization.zero_point == (-128,)
    for op in model.operators:
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weights = model.tensors[op.inputs[1]]
            q = weights.quantization
            channels = weights.shape[q.quantized_dimension]
            assert len(q.scale) == channels > 1, "weights are quantized per output channel"
            out = model.tensors[op.outputs[0]].quantization
            # RELU6 outputs: calibrated scales, never wider than 6/255 (no wasted range)
            if op.options["fused_activation_function"] == "RELU6":
                assert 0 < out.scale[0] <= 6 / 255 + 1e-9 and out.zero_point == (-128,)


def test_example_files_are_consistent() -> None:
    person = load_input(EXAMPLE / "person.bmp", "int8", (1, 96, 96, 1))
    assert (EXAMPLE / "input.bin").read_bytes() == person.tobytes()  # the compiled-in image


def test_example_images_are_classified_by_tflm() -> None:
    _needs_tflm()
    model = (EXAMPLE / "model.tflite").read_bytes()
    for path, want in _example_inputs():
        (scores,) = reference.tflm_run(model, [load_input(path, "int8", (1, 96, 96, 1))])
        assert int(np.argmax(scores)) == want, (path.name, scores)


@pytest.mark.slow
def test_make_model_regenerates_the_committed_structure() -> None:
    make_model = _make_model_module()
    rebuilt = make_model.build_model(make_model.make_network())
    committed = (EXAMPLE / "model.tflite").read_bytes()
    assert _structure(rebuilt) == _structure(committed)
    assert len(rebuilt) == len(committed)


def test_example_runs_bit_exact_on_the_host_runner() -> None:
    _needs_tflm()
    model = (EXAMPLE / "model.tflite").read_bytes()
    for path, _ in _example_inputs():
        tensor = load_input(path, "int8", (1, 96, 96, 1))
        ours = host_runtime.run_model(model, [tensor]).outputs
        assert [o.tolist() for o in ours] == [
            r.tolist() for r in reference.tflm_run(model, [tensor])
        ]


# ---- the real models on the host runner -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_real_model_on_host_runner_matches_tflm_and_classifies(
    name: str, shared_models: Path
) -> None:
    _needs_tflm()
    path = shared_models / REAL_MODELS[name]
    model = path.read_bytes()
    shape = read_model(model).inputs[0].shape
    for file, want in _inputs_for(name, shared_models):
        tensor = load_input(file, "int8", shape)
        expected = reference.tflm_run(model, [tensor])
        result = host_runtime.run_model(model, [tensor])
        assert [o.tolist() for o in result.outputs] == [e.tolist() for e in expected], file.name
        assert int(np.argmax(expected[0])) == want, (file.name, expected[0])
        assert result.arena_bytes > 0


def test_bmp_and_npy_inputs_are_the_same_tensor(shared_models: Path) -> None:
    for channels in (1, 3):
        for label in LABELS:
            npy = np.load(shared_models / "inputs" / f"{label}_96x96x{channels}_int8.npy")
            bmp = load_input(shared_models / "images" / f"{label}.bmp", "int8", npy.shape)
            assert np.array_equal(npy, bmp)


# ---- firmware: native and the emulated Cortex-M4 ---------------------------------------------

BOARDS = ["native", pytest.param("mps2-an386", marks=pytest.mark.qemu)]


def _skip_without_board_tools(board: str) -> None:
    if board != "native" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")


@pytest.fixture(scope="module", params=BOARDS)
def example_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, BuildResult]:
    board = request.param
    _skip_without_board_tools(board)
    project = tmp_path_factory.mktemp(f"example-{board}") / "person"
    init_project(project, board, example="person_detection")
    return project, build_project(project)


def _check_device(project: Path, files: list[tuple[Path, int]], model: bytes) -> None:
    flash(project)
    try:
        report = run_inputs(project, [f for f, _ in files])
    finally:
        stop_device(project)
    assert report.info.arena_used > 0 and report.info.arena_used <= report.info.arena_size
    assert len(report.results) == len(files)
    shape = read_model(model).inputs[0].shape
    for result, (file, want) in zip(report.results, files, strict=True):
        tensor = load_input(file, "int8", shape)
        expected = reference.tflm_run(model, [tensor])
        assert [o.tolist() for o in result.outputs] == [e.tolist() for e in expected], file.name
        assert result.match is True
        assert int(np.argmax(result.outputs[0])) == want, (file.name, result.outputs[0])
        assert result.inference.ticks > 0 and result.inference.us > 0


@pytest.mark.slow
def test_example_fits_the_vww_budget(example_build: tuple[Path, BuildResult]) -> None:
    project, build = example_build
    model_bytes = (EXAMPLE / "model.tflite").stat().st_size
    report = build.as_dict()
    assert report["ram_bytes"] <= VWW_BUDGET, report
    assert report["flash_bytes"] - model_bytes <= VWW_BUDGET, report
    if report["ram_budget"] is not None:  # the emulated board: the linker held it to its budget
        assert report["ram_bytes"] <= report["ram_budget"]


@pytest.mark.slow
def test_example_on_device_matches_tflm(example_build: tuple[Path, BuildResult]) -> None:
    _needs_tflm()
    project, _ = example_build
    _check_device(project, _example_inputs(), (EXAMPLE / "model.tflite").read_bytes())


REAL_BUILDS = [
    pytest.param(
        (name, board), id=f"{name}-{board}", marks=[] if board == "native" else [pytest.mark.qemu]
    )
    for name in sorted(REAL_MODELS)
    for board in ("native", "mps2-an386")
]


@pytest.fixture(scope="module", params=REAL_BUILDS)
def real_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, BuildResult]]:
    name, board = request.param
    shared = paths.shared_models_dir()
    if not shared.is_dir():
        pytest.skip(f"reference models folder {shared} is absent")
    _skip_without_board_tools(board)
    _needs_tflm()
    project = tmp_path_factory.mktemp(f"{name}-{board}") / "proj"
    init_project(project, board, model=shared / REAL_MODELS[name])
    yield name, project, build_project(project)


@pytest.mark.slow
def test_real_model_on_device_matches_tflm_and_classifies(
    real_build: tuple[str, Path, BuildResult], shared_models: Path
) -> None:
    name, project, _ = real_build
    model = (shared_models / REAL_MODELS[name]).read_bytes()
    _check_device(project, _inputs_for(name, shared_models), model)


@pytest.mark.slow
def test_real_model_fits_the_vww_budget(
    real_build: tuple[str, Path, BuildResult], shared_models: Path
) -> None:
    name, _, build = real_build
    report = build.as_dict()
    if report["ram_budget"] is None:
        pytest.skip("the VWW budget is about microcontrollers, not the host program")
    model_bytes = (shared_models / REAL_MODELS[name]).stat().st_size
    assert report["ram_bytes"] <= VWW_BUDGET, report
    assert report["flash_bytes"] - model_bytes <= VWW_BUDGET, report


# ---- init for a user's own model -------------------------------------------------------------


def test_init_user_model_as_image_classifier(tmp_path: Path, shared_models: Path) -> None:
    project = tmp_path / "mine"
    model = shared_models / REAL_MODELS["person_detect"]
    args = ["init", str(project), "--board", "mps2-an386", "--model", str(model)]
    result = run_cli(*args, "--app", "image-classifier", "--labels", "no_person,person")
    assert result.code == 0, result.stderr
    assert "labels: no_person, person" in result.stdout
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert (manifest["app"], manifest["labels"]) == ("image-classifier", ["no_person", "person"])


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--labels", "a,b,c"], "3 labels given, the model's output 0 has 2 classes"),
        (["--labels", "a,,b"], "empty label"),
        (["--app", "detector"], "unknown app 'detector'"),
    ],
)
def test_init_rejects_wrong_app_or_labels(tmp_path: Path, extra: list[str], text: str) -> None:
    project = tmp_path / "mine"
    args = ["init", str(project), "--board", "native", "--model", str(EXAMPLE / "model.tflite")]
    result = run_cli(*args, *extra)
    assert result.code != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
    assert not project.exists()  # refused before writing anything


def test_image_classifier_needs_an_image_input(tmp_path: Path) -> None:
    hello = paths.examples_dir() / "hello_world" / "model.tflite"
    args = ["init", str(tmp_path / "p"), "--board", "native", "--model", str(hello)]
    result = run_cli(*args, "--app", "image-classifier")
    assert result.code != 0 and "needs one image input" in result.stderr


@pytest.mark.slow
def test_run_reports_label_and_score(example_build: tuple[Path, BuildResult]) -> None:
    _needs_tflm()
    project, _ = example_build
    assert run_cli("flash", str(project)).code == 0
    try:
        files = [str(path) for path, _ in _example_inputs()]
        result = run_cli("run", str(project), "--input", files[0], "--input", files[1], "--json")
    finally:
        run_cli("flash", str(project), "--stop")
    assert result.code == 0, result.stdout + result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    model = (EXAMPLE / "model.tflite").read_bytes()
    q = read_model(model).outputs[0].quantization
    for row, (path, want) in zip(rows, _example_inputs(), strict=True):
        (scores,) = reference.tflm_run(model, [load_input(path, "int8", (1, 96, 96, 1))])
        best = int(np.argmax(scores))
        assert row["label"] == LABELS[best] == LABELS[want]
        assert row["score"] == pytest.approx(
            (int(scores.reshape(-1)[best]) - q.zero_point[0]) * q.scale[0]
        )
