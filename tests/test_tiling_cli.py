"""The patch-based execution policy (docs/patch_execution.md) through the CLI: `init --tiling`
compiles it into the firmware (-DMD_TILING_OFF / -DMD_TILING_ON; auto needs no flag) and sizes
the arena with it, `inspect --tiling` and `bench --tiling` plan with it, a bad value is a
one-line error, and firmware forced to stream on the emulated Cortex-M4 (DSP kernels with
per-op constants) stays bit-exact with TFLM."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from test_patch_execution import chain_model, small_saving_model

from microdeploy import host_runtime, paths, reference
from microdeploy.build import build_project
from microdeploy.device import flash, hil
from microdeploy.model.board_fit import RUNTIME_RAM
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.planner import plan_arena
from microdeploy.project.generate import init_project

needs_tflm = pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    path = tmp_path / "chain.tflite"
    path.write_bytes(chain_model(0))
    return path


def _build_flags(project: Path) -> str:
    match = re.search(r"^build_flags = (.*)$", (project / "platformio.ini").read_text(), re.M)
    assert match is not None
    return match.group(1)


def _arena(project: Path) -> int:
    match = re.search(r"#define MD_ARENA_BYTES (\d+)", (project / "src/md_config.h").read_text())
    assert match is not None
    return int(match.group(1))


def test_init_compiles_the_policy_in_and_sizes_the_arena_with_it(
    tmp_path: Path, chain: Path
) -> None:
    arenas = {}
    for tiling in ("auto", "off", "on"):
        project = tmp_path / tiling
        result = run_cli(
            "init", str(project), "--board", "mps2-an386", "--model", str(chain), "--tiling", tiling
        )
        assert result.code == 0, result.stderr
        flags = _build_flags(project)
        assert ("-DMD_TILING_OFF" in flags) == (tiling == "off")
        assert ("-DMD_TILING_ON" in flags) == (tiling == "on")
        manifest = json.loads((project / "microdeploy.json").read_text())
        assert manifest["tiling"] == tiling
        arenas[tiling] = _arena(project)
        planned = host_runtime.plan_model(chain, tiling=tiling).arena_bytes
        assert planned < arenas[tiling] <= planned + 256 + 15  # measured + margin, to 16
    assert arenas["off"] > arenas["auto"] == arenas["on"]  # this chain saves far more than 10%


def test_init_sizes_the_arena_for_streaming_when_the_boards_ram_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto runs this model layer by layer (streaming saves < 10%); on a board whose RAM leaves
    no room for that arena, init sizes the arena for the streamed plan, and the runtime's auto
    policy streams because the layer-by-layer plan does not fit it."""
    model = tmp_path / "small.tflite"
    model.write_bytes(small_saving_model())
    layered = host_runtime.plan_model(model).arena_bytes
    streamed_plan = host_runtime.plan_model(model, tiling="on")
    assert host_runtime.plan_model(model).stage is None and streamed_plan.arena_bytes < layered
    boards = tmp_path / "boards"
    boards.mkdir()
    template = (paths.repo_root() / "board_defs" / "mps2-an386.toml").read_text()
    for name, ram in (("roomy-m4", 262144), ("tight-m4", layered + 256 + RUNTIME_RAM - 16)):
        text = template.replace('name = "mps2-an386"', f'name = "{name}"')
        (boards / f"{name}.toml").write_text(
            text.replace("ram_bytes = 262144", f"ram_bytes = {ram}")
        )
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(boards))
    roomy = init_project(tmp_path / "roomy", "roomy-m4", model=model)
    assert roomy.arena_bytes == (layered + 256 + 15) // 16 * 16
    tight = init_project(tmp_path / "tight", "tight-m4", model=model)
    assert tight.arena_bytes == (streamed_plan.arena_bytes + 256 + 15) // 16 * 16
    assert "streamed" in tight.arena_origin
    assert tight.arena_bytes < layered  # so the firmware's auto policy must stream
    in_that_arena = host_runtime.plan_model(model, arena_size=tight.arena_bytes)
    assert in_that_arena.stage == streamed_plan.stage


def test_bad_tiling_values_are_one_line_errors(tmp_path: Path, chain: Path) -> None:
    for command in (
        ["init", str(tmp_path / "p"), "--board", "native", "--model", str(chain)],
        ["inspect", str(chain)],
        ["bench", str(chain)],
    ):
        result = run_cli(*command, "--tiling", "sometimes")
        assert result.code == 1, (command, result.stderr)
        assert result.stderr.startswith("error: --tiling 'sometimes'"), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "p").exists()


def test_inspect_plans_with_the_policy(chain: Path) -> None:
    model = read_model(chain)
    for tiling in ("auto", "off", "on"):
        result = run_cli("inspect", str(chain), "--json", "--tiling", tiling)
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout)
        plan = plan_arena(model, tiling=tiling)
        assert report["tiling"] == tiling
        assert report["stage"] == (None if plan.stage is None else list(plan.stage))
        assert report["arena_head"] == plan.head
    text = run_cli("inspect", str(chain), "--tiling", "off")
    assert "tiling off: layer by layer" in text.stdout


@needs_tflm
def test_bench_reports_the_policy_and_its_stage(chain: Path) -> None:
    for tiling in ("off", "on"):
        result = run_cli("bench", str(chain), "--json", "--batches", "1", "--tiling", tiling)
        assert result.code == 0, result.stderr
        row = json.loads(result.stdout)
        plan = host_runtime.plan_model(chain, tiling=tiling)
        assert row["tiling"] == tiling
        assert row["stage"] == (None if plan.stage is None else list(plan.stage))
        assert row["arena_bytes"] == plan.arena_bytes
        assert row["bit_exact"] is True


def _assert_streamed_firmware_matches_tflm(tmp_path: Path, model: Path, seed: int) -> None:
    """`init --tiling on` for mps2-an386, build, start it on QEMU, run one random input of the
    model's input shape: the device's output equals TFLM's."""
    project = tmp_path / "proj"
    init_project(project, "mps2-an386", model=model, tiling="on")
    build_project(project)
    flash.flash(project)
    try:
        shape = read_model(model).inputs[0].shape
        x = np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)
        path = tmp_path / "x.npy"
        np.save(path, x)
        (result,) = hil.run_inputs(project, [path], compare=False).results
        expected = reference.tflm_run(model.read_bytes(), [x])[0]
        assert np.array_equal(result.outputs[0], expected)
    finally:
        flash.stop_device(project)


@needs_tflm
@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("name", ["mlperf_tiny/str_ww_ref_model", "mlperf_tiny/kws_ref_model"])
def test_firmware_forced_to_stream_is_exact_on_the_cortex_m4(tmp_path: Path, name: str) -> None:
    """auto runs these layer by layer; `--tiling on` streams a stage with the DSP kernels reading
    their per-op constants."""
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    model = paths.shared_models_dir() / f"{name}.tflite"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    assert host_runtime.plan_model(model, tiling="on").stage is not None
    _assert_streamed_firmware_matches_tflm(tmp_path, model, seed=4)


def _full_range_conv(
    b: ModelBuilder,
    rng: np.random.Generator,
    x: int,
    cin: int,
    cout: int,
    size: int,
    k: int,
    stride: int,
    filter_scales: list[float],
    bias_range: int,
    depthwise: bool = False,
) -> tuple[int, int]:
    """A conv (or depthwise) op with no activation (the full int8 range) after x
    ([1, size, size, cin], SAME padding); returns (output, output size)."""
    out = -(-size // stride)
    shape = [1, k, k, cout] if depthwise else [cout, k, k, cin]
    f = b.add_tensor(
        shape,
        "int8",
        data=rng.integers(-127, 128, size=shape, dtype=np.int8),
        scale=filter_scales,
        zero_point=[0] * cout,
        quantized_dimension=3 if depthwise else 0,
    )
    bias = b.add_tensor(
        [cout],
        "int32",
        data=rng.integers(-bias_range, bias_range + 1, size=cout, dtype=np.int32),
        scale=[0.05 * s for s in filter_scales],
        zero_point=[0] * cout,
    )
    y = b.add_tensor(
        [1, out, out, cout], "int8", scale=0.05, zero_point=int(rng.integers(-100, 100))
    )
    opts = {"padding": "SAME", "stride_w": stride, "stride_h": stride}
    if depthwise:
        opts["depth_multiplier"] = 1
    b.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, f, bias], [y], opts)
    return y, out


def pointwise_band_form_model(seed: int, big_bias: bool) -> bytes:
    """A chain a stage streams whose CONV_2D ops have the full int8 range, as the 1x1 DSP path
    keeps in its own form across bands: per-channel scales mixing ordinary channels (right
    shifts up to 22, output offset fused) and tiny ones (shifts beyond 22), so runs of both kinds
    alternate; with big_bias one channel's bias is too large to double (that op keeps the
    generic form)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    size = 20
    x = b.add_tensor([1, size, size, 4], "int8", scale=0.05, zero_point=int(rng.integers(-20, 20)))

    def scales(n: int) -> list[float]:
        return [1e-8 if rng.random() < 0.3 else float(rng.uniform(0.002, 0.02)) for _ in range(n)]

    y, size = _full_range_conv(b, rng, x, 4, 8, size, 3, 2, scales(8), 900)
    y, size = _full_range_conv(b, rng, y, 8, 8, size, 3, 1, scales(8), 900, depthwise=True)
    y, size = _full_range_conv(b, rng, y, 8, 20, size, 1, 1, scales(20), 900)
    y, size = _full_range_conv(b, rng, y, 20, 20, size, 3, 2, scales(20), 900, depthwise=True)
    y, size = _full_range_conv(
        b, rng, y, 20, 12, size, 1, 1, scales(12), 2**30 - 1 if big_bias else 900
    )
    b.set_io([x], [y])
    return b.build()


@needs_tflm
@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize(("seed", "big_bias"), [(0, False), (1, False), (2, True)])
def test_pointwise_band_form_is_exact_on_the_cortex_m4(
    tmp_path: Path, seed: int, big_bias: bool
) -> None:
    """Streamed on the emulated Cortex-M4, the 1x1 DSP path reads its constants from the stage's
    area in its own form (PointwiseBandForm) on every band after the first: fused and unfused
    channels, output offsets of both signs, and an op it must leave in the generic form."""
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    model = tmp_path / "chain.tflite"
    model.write_bytes(pointwise_band_form_model(seed, big_bias))
    stage = host_runtime.plan_model(model, tiling="on").stage
    assert stage is not None and stage[1] - stage[0] >= 2
    _assert_streamed_firmware_matches_tflm(tmp_path, model, seed)
