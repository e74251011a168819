"""The four MLPerf Tiny benchmarks as their reference submissions (mlcommons/tiny) run them:
which bytes the harness sends for one input, how the device turns them into the input tensor,
and what `results` reports. The same arithmetic as runtime_cpp/src/md/app_mlperf/dut.cc, in
numpy, so tests and the driver can say what a correct device answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from microdeploy.errors import ProjectError
from microdeploy.model.reader import Model, Tensor

SCORES = "scores"  # results: every output value, dequantized
MSE = "mse"  # results: mean squared error between the dequantized output and the float input


@dataclass(frozen=True)
class Benchmark:
    key: str  # --benchmark value
    model_version: str  # what `profile` answers in m-model-[...]
    title: str
    enum: str  # md::mlperf::Benchmark enumerator
    payload_dtype: str  # what the harness sends per input element: uint8, int8 or float32
    results: str  # SCORES or MSE

    @property
    def payload_itemsize(self) -> int:
        return np.dtype(self.payload_dtype).itemsize


BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark("vww", "vww01", "Visual Wake Words", "kVww", "uint8", SCORES),
        Benchmark("kws", "kws01", "keyword spotting", "kKws", "int8", SCORES),
        Benchmark("ic", "ic01", "image classification", "kIc", "uint8", SCORES),
        Benchmark("ad", "ad01", "anomaly detection", "kAd", "float32", MSE),
    )
}


def get_benchmark(key: str | None) -> Benchmark:
    if key not in BENCHMARKS:
        raise ProjectError(
            f"unknown MLPerf Tiny benchmark {key!r}" if key else "--benchmark is missing",
            hint=f"--app mlperf-tiny takes --benchmark {'|'.join(BENCHMARKS)}",
        )
    return BENCHMARKS[str(key)]


def _single_quant(tensor: Tensor) -> tuple[float, int]:
    q = tensor.quantization
    if q is None or len(q.scale) != 1 or len(q.zero_point) != 1:
        return 0.0, 0
    return float(q.scale[0]), int(q.zero_point[0])


def check_model(bench: Benchmark, model: Model) -> None:
    """What the device code relies on: one int8 input, an int8 output 0 with per-tensor
    quantization (AD: as many outputs values as inputs)."""
    problem = ""
    if len(model.inputs) != 1:
        problem = f"{len(model.inputs)} inputs (the benchmark loads one)"
    elif not model.outputs:
        problem = "no output"
    elif model.inputs[0].dtype != "int8" or model.outputs[0].dtype != "int8":
        problem = f"a {model.inputs[0].dtype} input and a {model.outputs[0].dtype} output"
    elif _single_quant(model.outputs[0])[0] == 0.0 or _single_quant(model.inputs[0])[0] == 0.0:
        problem = "an input or output without per-tensor quantization"
    elif bench.results == MSE and _count(model.inputs[0]) != _count(model.outputs[0]):
        problem = "an output of another size than its input (the AD score compares them)"
    if problem:
        raise ProjectError(
            f"--benchmark {bench.key} needs an int8 model with one input and per-tensor "
            f"quantization; this model has {problem}",
            hint="use the benchmark's reference model (e.g. MLPerf Tiny's vww_96_int8.tflite)",
        )


def _count(tensor: Tensor) -> int:
    return int(np.prod(tensor.shape)) if tensor.shape else 1


def payload_bytes(bench: Benchmark, model: Model) -> int:
    """Bytes the harness sends for one input (`db load N`); the device's db buffer size."""
    return _count(model.inputs[0]) * bench.payload_itemsize


def quantize_float_to_int8(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The reference's QuantizeFloatToInt8: round(value / scale) + zero point, clamped; the
    division in float, round() in double, halves away from zero."""
    quotient = (values.astype(np.float32) / np.float32(scale)).astype(np.float64)
    rounded = np.sign(quotient) * np.floor(np.abs(quotient) + 0.5)
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def tensor_from_payload(bench: Benchmark, model: Model, payload: bytes) -> np.ndarray:
    """The int8 input tensor the device builds from the harness's bytes."""
    tensor = model.inputs[0]
    shape = tuple(tensor.shape)
    if len(payload) != payload_bytes(bench, model):
        raise ValueError(f"{len(payload)} bytes, the benchmark sends {payload_bytes(bench, model)}")
    if bench.payload_dtype == "uint8":
        values = np.frombuffer(payload, dtype=np.uint8).astype(np.int16) - 128
        return values.astype(np.int8).reshape(shape)
    if bench.payload_dtype == "int8":
        return np.frombuffer(payload, dtype=np.int8).reshape(shape).copy()
    scale, zero_point = _single_quant(tensor)
    floats = np.frombuffer(payload, dtype="<f4")
    return quantize_float_to_int8(floats, scale, zero_point).reshape(shape)


def payload_from_tensor(bench: Benchmark, tensor: np.ndarray) -> bytes:
    """The bytes to send so that the device builds `tensor` (uint8/int8 benchmarks)."""
    if bench.payload_dtype == "uint8":
        return (tensor.astype(np.int16) + 128).astype(np.uint8).tobytes()
    if bench.payload_dtype == "int8":
        return tensor.astype(np.int8).tobytes()
    raise ValueError("the AD benchmark sends float features, not an int8 tensor")


def format_fixed3(value: float) -> str:
    """C's printf("%0.3f") of a float (correctly rounded, as glibc; the device matches it)."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:.3f}"


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The reference's DequantizeInt8ToFloat: float(value - zero point) * scale, in float."""
    return (values.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def expected_results(bench: Benchmark, model: Model, payload: bytes, output: np.ndarray) -> str:
    """The `m-results-[...]` line a device answers for `payload` when output 0 is `output`."""
    scale, zero_point = _single_quant(model.outputs[0])
    converted = dequantize(np.asarray(output).reshape(-1), scale, zero_point)
    if bench.results == SCORES:
        return "m-results-[" + ",".join(format_fixed3(float(v)) for v in converted) + "]"
    floats = np.frombuffer(payload, dtype="<f4")
    total = np.float32(0.0)
    for got, want in zip(converted, floats, strict=True):  # float32, in order, unfused
        diff = np.float32(got - want)
        total = np.float32(total + np.float32(diff * diff))
    mse = np.float32(total / np.float32(len(floats)))
    return f"m-results-[{format_fixed3(float(mse))}]"
