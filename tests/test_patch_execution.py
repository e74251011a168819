"""Patch-based execution (docs/patch_execution.md): the planner streams a chain of CONV_2D /
DEPTHWISE_CONV_2D ops row by row when the tiling policy says it pays; outputs stay bit-exact with
TFLM (which runs layer by layer) with per-channel constants computed once per op, the C++ and
Python planners choose the same stage under every policy, and person_detect's arena meets the
<= 0.45 x TFLM goal."""

from __future__ import annotations

import numpy as np
import pytest
from test_planner import _assert_valid
from test_planner_parity import _compare

from microdeploy import host_runtime, paths, reference
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder
from microdeploy.patching import (
    AUTO_MIN_SAVING_PERCENT,
    band_constants_bytes,
    read_stage_op,
    window_rows,
)
from microdeploy.planner import align, plan_arena

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
    assert plan.head < plan_arena(model, tiling="off").head
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


def small_saving_model() -> bytes:
    """Streaming ops 0-1 saves the 8 KB expansion, but a later op needs almost as much: the
    stage lowers the head by less than AUTO_MIN_SAVING_PERCENT."""
    rng = np.random.default_rng(7)
    b = ModelBuilder()
    x = b.add_tensor([1, 16, 16, 4], "int8", scale=0.1, zero_point=3)
    y, oh, ow = _conv(b, rng, x, 4, 32, 16, 16, {"stride_h": 1}, k=1)
    y, oh, ow = _conv(b, rng, y, 32, 4, oh, ow, {"stride_h": 1}, k=1)
    y, oh, ow = _conv(b, rng, y, 4, 120, oh, ow, {"stride_h": 2}, k=3)
    b.set_io([x], [y])
    return b.build()


def test_stage_reserves_each_ops_constants_after_the_first_window() -> None:
    model = read_model(chain_model(0))
    plan = plan_arena(model)
    assert plan.stage is not None
    s, e = plan.stage
    ops = model.main.operators
    chain = [read_stage_op(model, ops[k]) for k in range(s, e + 1)]
    assert all(op is not None for op in chain)
    rows = window_rows(chain[1])  # type: ignore[arg-type]
    constants = sum(band_constants_bytes(op.out_depth) for op in chain)  # type: ignore[union-attr]
    window = plan.for_tensor(ops[s].outputs[0])
    assert window is not None
    assert window.size == align(rows * chain[0].out_row_bytes) + constants  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(3))
def test_tiling_modes(seed: int) -> None:
    model = read_model(chain_model(seed))
    auto, on, off = (plan_arena(model, tiling=t) for t in ("auto", "on", "off"))
    assert off.stage is None
    assert on.stage is not None
    # This chain saves far more than the threshold, so auto streams the same stage as on.
    assert on.head * 100 <= off.head * (100 - AUTO_MIN_SAVING_PERCENT)
    assert auto.stage == on.stage and auto.head == on.head
    for plan in (auto, on, off):
        _assert_valid(plan, model)


def test_auto_tiling_skips_a_small_saving_unless_the_arena_needs_it() -> None:
    model_bytes = small_saving_model()
    model = read_model(model_bytes)
    on, off = plan_arena(model, tiling="on"), plan_arena(model, tiling="off")
    assert on.stage is not None and on.head < off.head
    assert on.head * 100 > off.head * (100 - AUTO_MIN_SAVING_PERCENT)
    assert plan_arena(model).stage is None
    _compare(model_bytes, "auto")
    _compare(model_bytes, "on")
    # An arena that fits the streamed plan but not the layer-by-layer one: auto streams.
    tail = host_runtime.plan_model(model_bytes).tail
    arena = on.head + tail
    tight = host_runtime.plan_model(model_bytes, arena_size=arena)
    assert tight.stage == on.stage and tight.head == on.head
    assert tight.arena_bytes <= arena
    budgeted = plan_arena(model, head_budget=arena - tail)
    assert budgeted.stage == on.stage and budgeted.head == on.head
    assert plan_arena(model, head_budget=off.head).stage is None


@needs_tflm
@pytest.mark.parametrize("kernels", host_runtime.KERNEL_FLAVOURS)
def test_small_saving_model_runs_streamed_in_a_tight_arena(kernels: str) -> None:
    model = small_saving_model()
    on = plan_arena(read_model(model), tiling="on")
    arena = on.head + host_runtime.plan_model(model).tail
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 16, 16, 4), dtype=np.int8)
    ours = host_runtime.run_model(model, [x], arena_size=arena, repeat=2, kernels=kernels)
    assert np.array_equal(ours.outputs[0], reference.tflm_run(model, [x])[0])


@needs_tflm
@pytest.mark.parametrize("kernels", host_runtime.KERNEL_FLAVOURS)
@pytest.mark.parametrize(
    "name",
    [
        "mlperf_tiny/str_ww_ref_model",
        "mlperf_tiny/kws_ref_model",
        "mlperf_tiny/pretrainedResnet_quant",
    ],
)
def test_reference_models_forced_tiled_are_exact(name: str, kernels: str) -> None:
    """`--tiling on` streams a stage even where auto does not; still bit-exact with TFLM."""
    path = paths.shared_models_dir() / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = path.read_bytes()
    assert host_runtime.plan_model(model, tiling="on").stage is not None
    shape = read_model(model).inputs[0].shape
    x = np.random.default_rng(11).integers(-128, 128, size=shape, dtype=np.int8)
    ours = host_runtime.run_model(model, [x], repeat=2, kernels=kernels, tiling="on")
    assert np.array_equal(ours.outputs[0], reference.tflm_run(model, [x])[0])


def random_chain_model(seed: int) -> bytes:
    """A random chain of 2-6 CONV_2D / DEPTHWISE_CONV_2D ops: filter 1-5 rows, strides 1-2,
    dilation 1-2, SAME/VALID, depth multipliers, narrow and wide rows, then a small 1x1 conv."""
    rng = np.random.default_rng(1000 + seed)
    b = ModelBuilder()
    h = int(rng.integers(6, 30))
    w = int(rng.choice([1, 3, int(rng.integers(4, 20))]))
    c = int(rng.integers(1, 9))
    x = b.add_tensor([1, h, w, c], "int8", scale=0.1, zero_point=int(rng.integers(-5, 5)))
    y = x
    for _ in range(int(rng.integers(2, 7))):
        k = int(rng.choice([1, 3, 5]))
        stride = int(rng.choice([1, 1, 2]))
        dilation = int(rng.choice([1, 1, 2])) if k > 1 else 1
        span = (k - 1) * dilation + 1
        padding = "VALID" if span <= min(h, w) and rng.random() < 0.3 else "SAME"
        options = {"stride_h": stride, "dilation_h_factor": dilation}
        options.update(padding=padding, dilation_w_factor=dilation)
        depthwise = k > 1 and rng.random() < 0.5
        cout = c * int(rng.choice([1, 2])) if depthwise else int(rng.integers(1, 33))
        y, h, w = _conv(b, rng, y, c, cout, h, w, options, depthwise=depthwise, k=k)
        c = cout
    y, h, w = _conv(b, rng, y, c, 2, h, w, {"stride_h": 1}, k=1)
    b.set_io([x], [y])
    return b.build()


@pytest.mark.parametrize("tiling", ["auto", "on", "off"])
@pytest.mark.parametrize("seed", range(12))
def test_random_chains_plan_alike_in_both_planners(seed: int, tiling: str) -> None:
    _compare(random_chain_model(seed), tiling)


@needs_tflm
@pytest.mark.parametrize("kernels", host_runtime.KERNEL_FLAVOURS)
@pytest.mark.parametrize("seed", range(12))
def test_random_chains_forced_tiled_are_exact(seed: int, kernels: str) -> None:
    model = random_chain_model(seed)
    shape = read_model(model).inputs[0].shape
    x = np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)
    ours = host_runtime.run_model(model, [x], repeat=2, kernels=kernels, tiling="on")
    assert np.array_equal(ours.outputs[0], reference.tflm_run(model, [x])[0])
