"""The emulated boards that prove the runtime across cores: Cortex-M3 without FPU (mps2-an385,
a soft-float build) and Cortex-M7 with a double-precision FPU (mps2-an500), beside the
Cortex-M4F of the other tests. Each builds reference models through the md-cortexm platform,
runs them under QEMU through the serial protocol (flash + run, as a user does) and must give
TFLM's outputs bit for bit; the ELF's build attributes must show the float ABI the board asks
for (no FPU instructions at all on the M3)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths, reference
from microdeploy.boards import get_board
from microdeploy.build import build_project
from microdeploy.device import flash, hil
from microdeploy.model.reader import read_model
from microdeploy.project.generate import init_project

pytestmark = [pytest.mark.slow, pytest.mark.qemu]

BOARDS = ["mps2-an385", "mps2-an500"]
# Every reference model the runtime covers: float (all arithmetic in soft-float on the M3),
# int8 dense, conv/depthwise networks, residual ADDs, int16 SVDF and the int8 LSTM.
# (audio_preprocessor uses TFLM's custom signal ops, out of scope.)
MODELS = [
    "tflm/hello_world_float.tflite",
    "tflm/hello_world_int8.tflite",
    "tflm/person_detect.tflite",
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
]


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")


def _model(rel: str) -> Path:
    model = paths.shared_models_dir() / rel
    if not model.is_file():
        pytest.skip(f"reference model {model} is absent")
    return model


def _inputs(model: Path, folder: Path, seed: int) -> list[Path]:
    """Seeded random inputs over each input's whole range (saved as .npy for `run`)."""
    rng = np.random.default_rng(seed)
    files = []
    for i, tensor in enumerate(read_model(model).inputs):
        dtype = np.dtype(tensor.dtype)
        if dtype.kind == "f":
            data = rng.uniform(-3.0, 3.0, tensor.shape).astype(dtype)
        else:
            info = np.iinfo(dtype)
            data = rng.integers(info.min, info.max, tensor.shape, endpoint=True).astype(dtype)
        path = folder / f"input{seed}_{i}.npy"
        np.save(path, data)
        files.append(path)
    return files


@pytest.fixture(
    params=[(b, m) for b in BOARDS for m in MODELS], ids=lambda p: f"{p[0]}-{Path(p[1]).stem}"
)
def flashed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    board, rel = request.param
    model = _model(rel)
    project = tmp_path / "proj"
    init_project(project, board, model=model)
    build_project(project)
    flash.flash(project)
    try:
        yield project, model
    finally:
        flash.stop_device(project)


def test_models_match_tflm_bit_for_bit(flashed: tuple[Path, Path], tmp_path: Path) -> None:
    project, model = flashed
    for seed in (1, 2):
        files = _inputs(model, tmp_path, seed)
        report = hil.run_inputs(project, files, compare=False)
        (result,) = report.results
        expected = reference.tflm_run(model.read_bytes(), [np.load(f) for f in files])
        assert len(result.outputs) == len(expected)
        for got, want in zip(result.outputs, expected, strict=True):
            want = np.asarray(want)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want), (seed, got, want)


def _fp_attributes(elf: Path) -> dict[str, str]:
    proc = subprocess.run(
        ["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True, check=True
    )
    return dict(re.findall(r"^\s*(Tag_\w+): (.*)$", proc.stdout, re.M))


@pytest.mark.parametrize("board", BOARDS)
def test_firmware_uses_the_boards_float_abi(board: str, tmp_path: Path) -> None:
    project = tmp_path / "hello"
    init_project(project, board, example="hello_world")
    elf = build_project(project).firmware
    attributes = _fp_attributes(elf)
    # Armv7-M for the M3 (no DSP extension), Armv7E-M for the M7
    assert (
        attributes["Tag_CPU_arch"]
        == {"cortex-m3": "v7", "cortex-m7": "v7E-M"}[get_board(board).core]
    )
    if get_board(board).fpu == "none":
        assert "Tag_FP_arch" not in attributes  # not one FPU instruction
        assert "Tag_ABI_VFP_args" not in attributes  # base (soft-float) procedure call standard
        disassembly = subprocess.run(
            ["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True
        ).stdout
        assert not re.search(r"\tv(add|mul|ldr|str|mov|cvt)", disassembly)
    else:
        assert "FPv5" in attributes["Tag_FP_arch"]  # Cortex-M7's FPU
        assert "D16" in attributes["Tag_FP_arch"] and "SP only" not in attributes["Tag_FP_arch"]
        assert attributes["Tag_ABI_VFP_args"] == "VFP registers"
