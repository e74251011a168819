"""Kernel path variants (runtime_cpp/src/md/kernels/path_variants.h): generated projects compile
out the int8 CONV_2D / DEPTHWISE_CONV_2D fallback paths their model does not use on DSP cores.

- the generator's rule (microdeploy/project/path_variants.py) and the C++ prepare agree, op set
  by op set: a runner built with a define accepts a model exactly when the rule says every op
  of that kernel is served by its DSP path (shared models and hand-made edge cases);
- a model that needs a compiled-out path fails at prepare naming the define (never runs), on
  the host runner and on the emulated Cortex-M4 (mps2-an386, where the code is really gone), and
  runs bit-exactly like TFLM without it; models that qualify run bit-exactly with it;
- on the Cortex-M4 the defines really remove the fallback functions.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli  # tests/cli_helpers.py (tests/ is on sys.path via conftest)

from microdeploy import host_runtime, paths, reference
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.project.generate import init_project
from microdeploy.project.path_variants import (
    CONV_DEFINE,
    DEPTHWISE_DEFINE,
    compile_out_defines,
    served_by_dsp_paths,
)

KERNELS = paths.runtime_dir() / "src" / "md" / "kernels"
MODELS = (
    "tflm/person_detect.tflite",
    "mlperf_tiny/vww_96_int8.tflite",
    "mlperf_tiny/kws_ref_model.tflite",
    "mlperf_tiny/str_ww_ref_model.tflite",
    "mlperf_tiny/pretrainedResnet_quant.tflite",
    "tflm/micro_speech_quantized.tflite",
)


def _zeros(model: bytes | Path) -> list[np.ndarray]:
    return [np.zeros(t.shape, t.dtype) for t in read_model(model).inputs]


def _inputs(model: bytes | Path, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, t.shape).astype(t.dtype) for t in read_model(model).inputs]


def _accepted(model: bytes | Path, define: str) -> bool:
    """Whether a host runner built with `define` prepares and runs the model; a refusal must
    be the clean prepare error naming the define."""
    try:
        host_runtime.run_model(model, _zeros(model), sanitize=False, defines=[f"-D{define}"])
    except host_runtime.HostRunnerError as refused:
        assert refused.kind == "UnsupportedType", refused
        assert define in str(refused), refused
        assert "whose fallback is compiled out" in str(refused), refused  # prepare's message
        return False
    return True


def _assert_like_tflm(model: bytes | Path, defines: list[str], seed: int = 3) -> None:
    if not reference.available():
        pytest.skip("TFLM's Python interpreter (tflite-micro) is not installed")
    data = model.read_bytes() if isinstance(model, Path) else model
    inputs = _inputs(data, seed)
    ours = host_runtime.run_model(data, inputs, sanitize=False, defines=defines).outputs
    want = reference.tflm_run(data, inputs)
    assert len(ours) == len(want)
    for got, expected in zip(ours, want, strict=True):
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


@pytest.mark.parametrize("rel", MODELS)
def test_rule_agrees_with_prepare_on_the_shared_models(shared_models: Path, rel: str) -> None:
    path = shared_models / rel
    if not path.is_file():
        pytest.skip(f"{rel} is absent")
    verdicts = served_by_dsp_paths(read_model(path))
    for define in (CONV_DEFINE, DEPTHWISE_DEFINE):
        assert _accepted(path, define) == all(verdicts[define]), (rel, define, verdicts)


def test_person_detect_gets_both_defines_and_runs_bit_exact(shared_models: Path) -> None:
    path = shared_models / "tflm/person_detect.tflite"
    if not path.is_file():
        pytest.skip("tflm/person_detect.tflite is absent")
    defines = compile_out_defines(read_model(path))
    assert defines == [f"-D{CONV_DEFINE}", f"-D{DEPTHWISE_DEFINE}"]
    _assert_like_tflm(path, defines)


def _one_conv(
    depthwise: bool,
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    out_scale: float = 0.05,
    bias_range: int = 900,
    seed: int = 1,
) -> bytes:
    """One int8 conv (or depthwise conv) on an 8x8 input, SAME padding."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    h = w = 8
    x = b.add_tensor([1, h, w, cin], "int8", scale=0.1, zero_point=3)
    shape = [1, k, k, cout] if depthwise else [cout, k, k, cin]
    scales = list(rng.uniform(0.002, 0.02, size=cout))
    f = b.add_tensor(
        shape,
        "int8",
        data=rng.integers(-127, 128, size=shape, dtype=np.int8),
        scale=scales,
        zero_point=[0] * cout,
        quantized_dimension=3 if depthwise else 0,
    )
    bias = b.add_tensor(
        [cout],
        "int32",
        data=rng.integers(-bias_range, bias_range, size=cout, dtype=np.int64).astype(np.int32),
        scale=[0.1 * s for s in scales],
        zero_point=[0] * cout,
    )
    oh = ow = -(-h // stride)
    y = b.add_tensor([1, oh, ow, cout], "int8", scale=out_scale, zero_point=-4)
    opts: dict[str, object] = {"padding": "SAME", "stride_w": stride, "stride_h": stride}
    if depthwise:
        opts["depth_multiplier"] = cout // cin
    b.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, f, bias], [y], opts)
    b.set_io([x], [y])
    return b.build()


# (model, define, served): each condition of the rules on one side of its edge.
CASES = {
    "conv 1x1 depth 256": (lambda: _one_conv(False, 256, 8, 1), CONV_DEFINE, True),
    "conv 1x1 depth 260": (lambda: _one_conv(False, 260, 8, 1), CONV_DEFINE, False),
    "conv 1x1 depth 6": (lambda: _one_conv(False, 6, 8, 1), CONV_DEFINE, False),
    # Im2col rows: 12 x depth bytes of the buffer (depth <= 170).
    "conv 3x3 window 144": (lambda: _one_conv(False, 16, 16, 3), CONV_DEFINE, True),
    "conv 3x3 window 180": (lambda: _one_conv(False, 20, 16, 3), CONV_DEFINE, False),
    # Window 27 padded to 28: the chunk's padded filters must fit the buffer beside the rows.
    "conv 3x3 stride 2, 60 filters": (
        lambda: _one_conv(False, 3, 60, 3, stride=2),
        CONV_DEFINE,
        True,
    ),
    "conv 3x3 stride 2, 70 filters": (
        lambda: _one_conv(False, 3, 70, 3, stride=2),
        CONV_DEFINE,
        False,
    ),
    "conv scale >= 0.5": (lambda: _one_conv(False, 8, 8, 1, out_scale=1e-4), CONV_DEFINE, False),
    "depthwise 3x3": (lambda: _one_conv(True, 8, 8, 3), DEPTHWISE_DEFINE, True),
    "depthwise 3x3 x4": (lambda: _one_conv(True, 4, 16, 3, stride=2), DEPTHWISE_DEFINE, True),
    "depthwise 5x5": (lambda: _one_conv(True, 8, 8, 5), DEPTHWISE_DEFINE, False),
    "depthwise 6 channels": (lambda: _one_conv(True, 6, 6, 3), DEPTHWISE_DEFINE, False),
    "depthwise multiplier 2": (lambda: _one_conv(True, 4, 8, 3), DEPTHWISE_DEFINE, False),
    "depthwise big bias": (
        lambda: _one_conv(True, 8, 8, 3, bias_range=(1 << 31) - 1),
        DEPTHWISE_DEFINE,
        False,
    ),
    "depthwise scale >= 0.5": (
        lambda: _one_conv(True, 8, 8, 3, out_scale=1e-4),
        DEPTHWISE_DEFINE,
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_agrees_with_prepare_at_the_edges(name: str) -> None:
    make, define, served = CASES[name]
    model = make()
    verdicts = served_by_dsp_paths(read_model(model))
    assert verdicts[define] == (served,)
    assert _accepted(model, define) == served
    # Either way it runs like TFLM: with the define when served, else without it.
    _assert_like_tflm(model, compile_out_defines(read_model(model)))
    assert (f"-D{define}" in compile_out_defines(read_model(model))) == served


def test_init_puts_the_defines_in_the_build_flags(tmp_path: Path, shared_models: Path) -> None:
    model = shared_models / "tflm/person_detect.tflite"
    if not model.is_file():
        pytest.skip("tflm/person_detect.tflite is absent")
    init_project(tmp_path / "p", "mps2-an386", model=model)
    ini = (tmp_path / "p" / "platformio.ini").read_text()
    flags = ini.split("build_flags = ", 1)[1].splitlines()[0].split()
    assert {f"-D{CONV_DEFINE}", f"-D{DEPTHWISE_DEFINE}"} <= set(flags)


# Functions only the fallback paths use, on a Cortex-M4 build.
_FALLBACK_SYMBOLS = {
    "conv_2d": (CONV_DEFINE, ["WindowChunk(", "PointwiseChunk(", "ConvChunkWithConstants("]),
    "depthwise_conv_2d": (DEPTHWISE_DEFINE, ["DepthwiseFourChannelsDsp<"]),
}


@pytest.mark.parametrize("kernel", sorted(_FALLBACK_SYMBOLS))
def test_defines_remove_the_fallbacks_on_cortex_m4(tmp_path: Path, kernel: str) -> None:
    compiler = shutil.which("arm-none-eabi-g++")
    tools = ("arm-none-eabi-nm", "arm-none-eabi-size")
    if compiler is None or not all(shutil.which(tool) for tool in tools):
        pytest.skip("the Arm GNU toolchain is not installed")
    define, symbols = _FALLBACK_SYMBOLS[kernel]
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2"]
    flags += ["-std=gnu++17", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Werror"]
    flags += ["-ffunction-sections", "-DMD_KERNELS_NO_FLOAT32", "-DMD_KERNELS_NO_INT16"]
    flags += [f"-I{paths.runtime_dir() / 'src'}", "-c", str(KERNELS / f"{kernel}.cc")]
    sizes = {}
    for with_define in (False, True):
        obj = tmp_path / f"{kernel}-{with_define}.o"
        extra = [f"-D{define}"] if with_define else []
        subprocess.run([compiler, *flags, *extra, "-o", str(obj)], check=True, capture_output=True)
        names = subprocess.run(
            ["arm-none-eabi-nm", "-C", "-S", str(obj)], check=True, capture_output=True, text=True
        ).stdout
        for symbol in symbols:
            assert (symbol in names) is not with_define, (kernel, with_define, symbol)
        size = subprocess.run(
            ["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True
        ).stdout
        sizes[with_define] = int(size.splitlines()[1].split()[0])
    assert sizes[True] < sizes[False]


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "define"),
    [("conv 1x1 depth 260", CONV_DEFINE), ("depthwise 5x5", DEPTHWISE_DEFINE)],
)
def test_compiled_out_path_fails_cleanly_on_mps2(tmp_path: Path, name: str, define: str) -> None:
    """On the board (DSP build, where the define really drops the code) a model that needs the
    removed path is refused at set-up with the define named: no crash, no hang, no output."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    make, case_define, served = CASES[name]
    assert case_define == define and not served
    model = make()
    (tmp_path / "m.tflite").write_bytes(model)
    np.save(tmp_path / "x.npy", _zeros(model)[0])
    project = tmp_path / "p"
    result = run_cli(
        "init", str(project), "--board", "mps2-an386", "--model", str(tmp_path / "m.tflite")
    )
    assert result.code == 0, result.stdout + result.stderr
    # init leaves the define out for this model; add it by hand, as a user could.
    ini = project / "platformio.ini"
    ini.write_text(ini.read_text().replace("build_flags = -D", f"build_flags = -D{define} -D", 1))
    try:
        for args in (("build", str(project)), ("flash", str(project))):
            result = run_cli(*args)
            assert result.code == 0, f"{args[0]}: {result.stdout}{result.stderr}"
        result = run_cli("run", str(project), "--json", "--input", str(tmp_path / "x.npy"))
    finally:
        run_cli("flash", str(project), "--stop")
    assert result.code != 0
    assert "UnsupportedType" in result.stderr and define in result.stderr, result.stderr
    assert "could not set the model up" in result.stderr, result.stderr  # refused at prepare
    assert "Traceback" not in result.stdout + result.stderr
