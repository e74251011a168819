"""Shared helpers for the kernel tests: build tiny one-op models with our ModelBuilder, run them
through TFLM's Python interpreter and through our C++ runtime (host runner), and demand
bit-identical outputs.

Typical use in a test module:

    from kernel_harness import KernelCase, assert_same_as_tflm, quantized_weights, ...

    def test_something(seed):
        rng = np.random.default_rng(seed)
        b = ModelBuilder()
        ...
        assert_same_as_tflm(b.build(), [x], label=f"seed={seed}")

Tests skip (never pass silently) when TFLM's interpreter or the host runner is unavailable.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import pytest

from microdeploy import reference
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder

INT_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-128, 127),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
    "uint8": (0, 255),
}


def require_reference() -> None:
    """Skip the calling test when TFLM's Python interpreter is not installed."""
    if not reference.available():
        pytest.skip("tflite-micro (TFLM's Python interpreter) is not installed")


def _host_runtime() -> ModuleType:
    try:
        return importlib.import_module("microdeploy.host_runtime")
    except ImportError as exc:  # only while the runner is being written
        pytest.skip(f"microdeploy.host_runtime is not available ({exc})")


def run_ours(
    model: bytes, inputs: Sequence[np.ndarray], kernels: str = "optimized"
) -> list[np.ndarray]:
    """Outputs of our runtime (host runner, sanitized build, with the `kernels` flavour:
    "optimized", "reference" or "portable") for one inference."""
    result = _host_runtime().run_model(model, list(inputs), kernels=kernels)
    return [np.asarray(o) for o in result.outputs]


# Both kernel flavours of the host runner (runtime_cpp/src/md/kernels/int8_opt.h): a test
# decorated with @both_kernels takes a `kernels` argument and compares each flavour with TFLM.
KERNEL_FLAVOURS = ("optimized", "reference")
both_kernels = pytest.mark.parametrize("kernels", KERNEL_FLAVOURS)
# Where the optimized paths branch (test_int8_fast_paths.py), also the plain C++ optimized
# paths (-DMD_KERNELS_PORTABLE), which x86 hosts replace by SSE2 code in "optimized" and
# non-SIMD targets (Cortex-M3, kernels = "portable") run.
ALL_KERNEL_FLAVOURS = ("optimized", "reference", "portable")
all_kernels = pytest.mark.parametrize("kernels", ALL_KERNEL_FLAVOURS)


def run_tflm(model: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs of TFLM's interpreter for one inference."""
    require_reference()
    return reference.tflm_run(model, list(inputs))


def assert_same_as_tflm(
    model: bytes, inputs: Sequence[np.ndarray], label: str = "", kernels: str = "optimized"
) -> None:
    """Run the model through TFLM and our runtime; every output must be bit-identical."""
    expected = run_tflm(model, inputs)
    got = run_ours(model, inputs, kernels)
    label = f"{label} [{kernels} kernels]"
    assert len(got) == len(expected), f"{label}: {len(got)} outputs, TFLM gives {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        e = np.asarray(e)
        assert g.dtype == e.dtype, f"{label}: output {i} dtype {g.dtype}, TFLM {e.dtype}"
        assert g.shape == e.shape, f"{label}: output {i} shape {g.shape}, TFLM {e.shape}"
        if e.dtype.kind == "f":
            # Bit-exact for floats too (NaN == NaN by bit pattern).
            g_bits = g.view(np.uint32 if e.dtype == np.float32 else np.uint64)
            e_bits = e.view(np.uint32 if e.dtype == np.float32 else np.uint64)
            np.testing.assert_array_equal(g_bits, e_bits, err_msg=f"{label}: output {i} (bits)")
        else:
            np.testing.assert_array_equal(g, e, err_msg=f"{label}: output {i}")


def run_tflm_repeated(model: bytes, inputs: Sequence[np.ndarray], invokes: int) -> list[np.ndarray]:
    """Outputs of TFLM after `invokes` invocations of one interpreter on the same inputs (ops
    with variable tensors, such as SVDF and LSTM state, carry state from one to the next)."""
    require_reference()
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(
        model, arena_size=reference.default_arena_size(model)
    )
    for _ in range(invokes):
        for index, value in enumerate(inputs):
            interpreter.set_input(np.ascontiguousarray(value), index)
        interpreter.invoke()
    num_outputs = len(read_model(model).outputs)
    return [np.array(interpreter.get_output(i)) for i in range(num_outputs)]


def assert_same_as_tflm_repeated(
    model: bytes, inputs: Sequence[np.ndarray], invokes: int, label: str = ""
) -> None:
    """Like assert_same_as_tflm, comparing the outputs of the last of `invokes` invocations."""
    expected = run_tflm_repeated(model, inputs, invokes)
    got = _host_runtime().run_model(model, list(inputs), repeat=invokes).outputs
    assert len(got) == len(expected), f"{label}: {len(got)} outputs, TFLM gives {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        g = np.asarray(g)
        assert g.dtype == e.dtype, f"{label}: output {i} dtype {g.dtype}, TFLM {e.dtype}"
        assert g.shape == e.shape, f"{label}: output {i} shape {g.shape}, TFLM {e.shape}"
        if e.dtype.kind == "f":
            g, e = g.view(np.uint32), e.view(np.uint32)
        np.testing.assert_array_equal(g, e, err_msg=f"{label}: output {i} after {invokes} invokes")


# ---------------------------------------------------------------------------------------------
# Random tensors and quantization parameters


def random_ints(rng: np.random.Generator, shape: Sequence[int], dtype: str) -> np.ndarray:
    """Uniform integers over the whole range of `dtype`."""
    lo, hi = INT_RANGES[dtype]
    return rng.integers(lo, hi, size=tuple(shape), endpoint=True).astype(dtype)


def random_scale(rng: np.random.Generator, lo: float = 1e-3, hi: float = 0.1) -> float:
    """A log-uniform scale, rounded to float32 (what the model stores)."""
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def random_zero_point(rng: np.random.Generator, dtype: str) -> int:
    """Asymmetric zero point for int8 activations; int16 activations are symmetric (0)."""
    if dtype == "int8":
        return int(rng.integers(-128, 128))
    return 0


def symmetric_weights(
    rng: np.random.Generator, shape: Sequence[int], dtype: str = "int8"
) -> np.ndarray:
    """Weights in TFLite's symmetric range [-127, 127]."""
    hi = 127 if dtype == "int8" else 32767
    return rng.integers(-hi, hi, size=tuple(shape), endpoint=True).astype(dtype)


def channel_scales(rng: np.random.Generator, count: int, lo: float = 1e-3, hi: float = 0.05):
    """`count` float32-exact per-channel filter scales."""
    return [random_scale(rng, lo, hi) for _ in range(count)]


def bias_values(
    rng: np.random.Generator,
    count: int,
    input_scale: float,
    filter_scales: Sequence[float],
    dtype: str = "int32",
    magnitude: int = 20000,
) -> tuple[np.ndarray, list[float]]:
    """Bias data and its (per-channel) scale input_scale x filter_scale, as TFLite's converter
    writes them (TFLM checks the bias scale against that product for per-tensor FC)."""
    data = rng.integers(-magnitude, magnitude, size=count, endpoint=True).astype(dtype)
    scales = [float(np.float32(input_scale * s)) for s in filter_scales]
    return data, scales


def output_scale_for(
    input_scale: float,
    filter_scale: float,
    accum_terms: int,
    rng: np.random.Generator,
    dtype: str = "int8",
) -> float:
    """An output scale under which a typical accumulator of `accum_terms` products of uniform
    random activations (`dtype`) and weights lands at 10%..100% of the output range: most outputs
    unsaturated, where rounding differences show, and the tails saturated."""
    rms_activation = 74.0 if dtype == "int8" else 18919.0  # uniform over the whole range
    rms_weight = 73.0  # uniform over [-127, 127]
    typical = input_scale * filter_scale * rms_activation * rms_weight * np.sqrt(accum_terms)
    q_max = 127.0 if dtype == "int8" else 32767.0
    return float(np.float32(typical / (q_max * rng.uniform(0.1, 1.0))))


# ---------------------------------------------------------------------------------------------
# Shapes


def random_shape(rng: np.random.Generator, rank: int, max_dim: int = 5) -> list[int]:
    """A shape of `rank` dims, each in [1, max_dim]."""
    return [int(d) for d in rng.integers(1, max_dim + 1, size=rank)]


def broadcast_shapes(
    rng: np.random.Generator, max_rank: int = 5, max_dim: int = 5
) -> tuple[list[int], list[int], list[int]]:
    """Two input shapes that broadcast numpy-style (some dims 1 in either input, possibly a
    shorter rank for one of them) and the resulting output shape."""
    out = random_shape(rng, int(rng.integers(1, max_rank + 1)), max_dim)
    a = [1 if rng.random() < 0.3 else d for d in out]
    b = [1 if (a[i] != 1 and rng.random() < 0.3) else d for i, d in enumerate(out)]
    # Drop leading dims of one input now and then (implicit broadcasting by rank).
    if rng.random() < 0.3:
        a = a[int(rng.integers(0, len(a))) :]
    elif rng.random() < 0.3:
        b = b[int(rng.integers(0, len(b))) :]
    out = list(np.broadcast_shapes(tuple(a), tuple(b)))
    return a, b, out


def binary_op_model(
    op: str,
    shapes: tuple[list[int], list[int], list[int]],
    dtype: str,
    quant: list[tuple[float, int]] | None,
    activation: str,
) -> bytes:
    """A one-op model of an elementwise two-input op with a fused activation (ADD, MUL, ...);
    `quant`: (scale, zero point) of both inputs and the output, None for float/int32."""
    b = ModelBuilder()
    q = quant or [(None, None)] * 3
    ids = [
        b.add_tensor(shape, dtype, scale=scale, zero_point=zp)
        for shape, (scale, zp) in zip(shapes, q, strict=True)
    ]
    b.add_operator(op, ids[:2], [ids[2]], {"fused_activation_function": activation})
    b.set_io(ids[:2], [ids[2]])
    return b.build()


# ---------------------------------------------------------------------------------------------
# Windowed ops (conv, depthwise conv, pooling)

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def window_out_size(padding: str, size: int, filter_size: int, stride: int, dilation: int) -> int:
    """Output extent TFLite's converter gives a windowed op (the model stores it statically)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def random_window(
    rng: np.random.Generator, max_size: int = 9, max_filter: int = 4, allow_dilation: bool = True
) -> dict[str, int | str]:
    """Random input extent, filter, stride, dilation and padding with a non-empty output."""
    while True:
        in_h, in_w = (int(v) for v in rng.integers(1, max_size + 1, 2))
        f_h, f_w = (int(v) for v in rng.integers(1, max_filter + 1, 2))
        s_h, s_w = (int(v) for v in rng.integers(1, 4, 2))
        d_h, d_w = (int(v) for v in rng.integers(1, 3, 2)) if allow_dilation else (1, 1)
        padding = str(rng.choice(["SAME", "VALID"]))
        out_h = window_out_size(padding, in_h, f_h, s_h, d_h)
        out_w = window_out_size(padding, in_w, f_w, s_w, d_w)
        if out_h >= 1 and out_w >= 1:
            return dict(
                in_h=in_h,
                in_w=in_w,
                f_h=f_h,
                f_w=f_w,
                s_h=s_h,
                s_w=s_w,
                d_h=d_h,
                d_w=d_w,
                padding=padding,
                out_h=out_h,
                out_w=out_w,
            )


# ---------------------------------------------------------------------------------------------
# Multiplier rounding

# Input, filter and output scales for which forming input_scale x filter_scale in float (instead
# of double, as TFLM does) changes the requantization multiplier enough to flip the outputs of
# these accumulators (found by a search over random scales). Kernels feed each accumulator
# through one channel's bias (zero input, unit weight) to pin the double product.
PRODUCT_ROUNDING_SCALES = (0.001332598039880395, 0.012291286140680313, 0.05073009431362152)
PRODUCT_ROUNDING_ACCUMULATORS = (
    -329851, -314365, -298879, -283393, -267907, -252421,
    252421, 267907, 283393, 298879, 314365, 329851,
)  # fmt: skip
