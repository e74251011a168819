"""Patch-based execution (docs/patch_execution.md): the planner streams a chain of CONV_2D /
DEPTHWISE_CONV_2D ops row by row when that lowers the arena; outputs stay bit-exact with TFLM
(which runs layer by layer), the C++ and Python planners choose the same stage, and
person_detect's arena meets the <= 0.45 x TFLM goal."""

from __future__ import annotations

import numpy as np
import pytest
from test_planner import _assert_valid
from test_planner_parity import _compare

from microdeploy import host_runtime, paths, reference
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.planner import plan_arena

needs_tflm = pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")


def _conv(
    b: ModelBuilder,
    rng: np.random.Generator,
    x: int,
    cin: int,
    cout: int,
    h: int,
    w: int,
    options: dict,
    depthwise: bool = False,
    k: int = 3,
) -> tuple[int, int, int]:
    """Adds a conv (or depthwise) op after x ([1, h, w, cin]); returns (output, out_h, out_w)."""
    stride = options.get("stride_h", 1)
    dilation = options.get("dilation_h_factor", 1)
    span = (k - 1) * dilation + 1
    if options.get("padding", "SAME") == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = (h - span) // stride + 1, (w - span) // stride + 1
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
        data=rng.integers(-900, 900, size=cout, dtype=np.int32),
        scale=[0.1 * s for s in scales],
        zero_point=[0] * cout,
    )
    y = b.add_tensor([1, oh, ow, cout], "int8", scale=0.05, zero_point=int(rng.integers(-9, 9)))
    opts = {"padding": "SAME", "stride_w": stride, "fused_activation_function": "RELU6", **options}
    if depthwise:
        opts["depth_multiplier"] = cout // cin
    b.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, f, bias], [y], opts)
    return y, oh, ow


def chain_model(seed: int) -> bytes:
    """A MobileNet-like chain with strides 1/2, SAME/VALID padding, a dilation, a 1x1 conv and
    a depth multiplier, then a 1x1 conv on a small tensor (so a stage is worth it)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    h = w = 24 + seed
    x = b.add_tensor([1, h, w, 2], "int8", scale=0.1, zero_point=3)
    y, oh, ow = _conv(b, rng, x, 2, 8, h, w, {"stride_h": 2})
    y, oh, ow = _conv(b, rng, y, 8, 16, oh, ow, {"stride_h": 1}, depthwise=True)
    y, oh, ow = _conv(b, rng, y, 16, 16, oh, ow, {"stride_h": 1}, k=1)
    y, oh, ow = _conv(
        b,
        rng,
        y,
        16,
        16,
        oh,
        ow,
        {"stride_h": 1, "dilation_h_factor": 2, "dilation_w_factor": 2},
        depthwise=True,
    )
    y, oh, ow = _conv(b, rng, y, 16, 8, oh, ow, {"stride_h": 2, "padding": "VALID"})
    y, oh, ow = _conv(b, rng, y, 8, 4, oh, ow, {"stride_h": 1}, k=1)
    b.set_io([x], [y])
    return b.build()


@pytest.mark.parametrize("seed", range(3))
def test_chain_is_planned_as_a_stage_by_both_planners(seed: int) -> None:
    model_bytes = chain_model(seed)
    model = read_model(model_bytes)
    plan = plan_arena(model)
    assert plan.stage is not None
    assert plan.head < plan_arena(model, tiling=False).head
    _assert_valid(plan, model)
    _compare(model_bytes)


@needs_tflm
@pytest.mark.parametrize("kernels", host_runtime.KERNEL_FLAVOURS)
@pytest.mark.parametrize("seed", range(3))
def test_chain_outputs_equal_tflm(seed: int, kernels: str) -> None:
    model = chain_model(seed)
    assert host_runtime.plan_model(model).stage is not None
    shape = read_model(model).inputs[0].shape
    for k in range(2):
        x = np.random.default_rng(100 * seed + k).integers(-128, 128, size=shape, dtype=np.int8)
        ours = host_runtime.run_model(model, [x], repeat=2, kernels=kernels)
        assert np.array_equal(ours.outputs[0], reference.tflm_run(model, [x])[0])


@needs_tflm
@pytest.mark.parametrize("name", ["tflm/person_detect", "mlperf_tiny/vww_96_int8"])
def test_reference_models_run_tiled_and_exact(name: str) -> None:
    path = paths.shared_models_dir() / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = path.read_bytes()
    assert host_runtime.plan_model(model).stage is not None
    shape = read_model(model).inputs[0].shape
    x = np.random.default_rng(5).integers(-128, 128, size=shape, dtype=np.int8)
    expected = reference.tflm_run(model, [x])[0]
    for kernels in host_runtime.KERNEL_FLAVOURS:
        ours = host_runtime.run_model(model, [x], kernels=kernels)
        assert np.array_equal(ours.outputs[0], expected), kernels


@needs_tflm
def test_person_detect_arena_is_at_most_045_of_tflms() -> None:
    path = paths.shared_models_dir() / "tflm/person_detect.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = path.read_bytes()
    ours = host_runtime.plan_model(model).arena_bytes
    theirs = reference.tflm_arena(model).total
    assert ours <= 0.45 * theirs, (ours, theirs)
