"""Writes the hand-made regression models of this folder (run from the repo root:
`python tests/fuzz/make_regressions.py`). Each one reproduces, in a few hundred bytes of our
own model, a crash class the fuzzer (runtime_cpp/fuzz/fuzz_model.cc) found in mutated
reference models; the mutated files themselves stay out of the repo (size, licence).
tests/test_fuzz.py replays every .tflite here through the sanitized host runner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microdeploy.model.writer import ModelBuilder

HERE = Path(__file__).parent
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _fully_connected(
    in_zero_point: int = 0,
    bias: list[int] | None = None,
    in_scale: float = 0.5,
    out_scale: float = 0.5,
    dtype: str = "int8",
    bias_dtype: str = "int32",
) -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], dtype, scale=in_scale, zero_point=in_zero_point)
    w = b.add_tensor([2, 4], "int8", data=np.full((2, 4), 127, np.int8), scale=0.5)
    inputs = [x, w, -1]
    if bias is not None:
        data = np.array(bias, dtype=bias_dtype)
        inputs[2] = b.add_tensor([2], bias_dtype, data=data, scale=0.25)
    y = b.add_tensor([1, 2], dtype, scale=out_scale, zero_point=0)
    b.add_operator("FULLY_CONNECTED", inputs, [y])
    b.set_io([x], [y])
    return b.build()


def _conv_huge_multiplier() -> bytes:
    """input scale x filter scale / output scale = 1e38: a left shift of 127 bits."""
    b = ModelBuilder()
    x = b.add_tensor([1, 3, 3, 2], "int8", scale=1e30)
    w_data = np.full((2, 2, 2, 2), 100, np.int8)
    w = b.add_tensor([2, 2, 2, 2], "int8", data=w_data, scale=[1.0, 2.0], zero_point=[0, 0])
    y = b.add_tensor([1, 2, 2, 2], "int8", scale=1e-8)
    b.add_operator("CONV_2D", [x, w, -1], [y], {"padding": "VALID", "stride_w": 1, "stride_h": 1})
    b.set_io([x], [y])
    return b.build()


def _depthwise_bias_overflow() -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 3, 3, 2], "int8", scale=0.5)
    w_data = np.full((1, 2, 2, 2), 127, np.int8)
    w = b.add_tensor(
        [1, 2, 2, 2], "int8", data=w_data, scale=[1.0, 1.0], zero_point=[0, 0],
        quantized_dimension=3,
    )  # fmt: skip
    bias_data = np.array([INT32_MAX, -INT32_MAX], np.int32)
    bias = b.add_tensor([2], "int32", data=bias_data, scale=[0.5, 0.5], zero_point=[0, 0])
    y = b.add_tensor([1, 2, 2, 2], "int8", scale=0.5)
    options = {"padding": "VALID", "depth_multiplier": 1, "stride_w": 1, "stride_h": 1}
    b.add_operator("DEPTHWISE_CONV_2D", [x, w, bias], [y], options)
    b.set_io([x], [y])
    return b.build()


def _fc_batches_overflow() -> bytes:
    """Output [8388609, 1] over weights [1, 560]: batches x depth passes 2^31 in prepare."""
    b = ModelBuilder()
    x = b.add_tensor([1, 560], "int8", scale=0.5)
    w = b.add_tensor([1, 560], "int8", data=np.ones((1, 560), np.int8), scale=0.5)
    y = b.add_tensor([8388609, 1], "int8", scale=0.5)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    b.set_io([x], [y])
    return b.build()


def _tanh16_zero_output_scale() -> bytes:
    """int16 TANH whose output scale is 0: log2(0) = -inf was cast to int (CheckedLog2)."""
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "int16", scale=1 / 4096, zero_point=0)
    y = b.add_tensor([1, 8], "int16", scale=0.0, zero_point=0)
    b.add_operator("TANH", [x], [y])
    b.set_io([x], [y])
    return b.build()


def _pad_overflow() -> bytes:
    """A padding of INT32_MAX: input dim + paddings passes 2^31 in prepare."""
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "int8", scale=0.5)
    pads = b.add_tensor([2, 2], "int32", data=np.array([[0, 0], [INT32_MAX, 5]], np.int32))
    y = b.add_tensor([1, 9], "int8", scale=0.5)
    b.add_operator("PAD", [x, pads], [y])
    b.set_io([x], [y])
    return b.build()


MODELS = {
    # int32 accumulator + bias past INT32_MAX / INT32_MIN (signed overflow)
    "fc_bias_overflows_accumulator.tflite": lambda: _fully_connected(bias=[-INT32_MAX, INT32_MAX]),
    # 16x8: int64 bias near the limits, then the int64 requantization product overflows
    "fc16x8_bias_overflows_int64.tflite": lambda: _fully_connected(
        dtype="int16", bias_dtype="int64", bias=[-INT64_MAX + 4, INT64_MAX - 4]
    ),
    # input zero point far outside int8: (input + offset) x weight overflows int32
    "fc_zero_point_outside_int8.tflite": lambda: _fully_connected(in_zero_point=-1677721471),
    # requantization multiplier 2^126: shift exponent beyond the type's width
    "fc_huge_multiplier.tflite": lambda: _fully_connected(in_scale=1e30, out_scale=1e-8),
    "conv_huge_multiplier.tflite": _conv_huge_multiplier,
    "depthwise_bias_overflows_accumulator.tflite": _depthwise_bias_overflow,
    "fc_batches_times_depth_overflow.tflite": _fc_batches_overflow,
    "pad_paddings_overflow.tflite": _pad_overflow,
    "tanh16_zero_output_scale.tflite": _tanh16_zero_output_scale,
}


def main() -> None:
    for name, make in MODELS.items():
        (HERE / name).write_bytes(make())


if __name__ == "__main__":
    main()
