"""The runtime checks every model field it trusts: each hand-made bad model is refused by
Init()/AllocateTensors() (through the sanitized host runner) with a message naming what is
wrong, never read out of bounds.

Models are written with our ModelBuilder, then one field is patched in place (same size, so
the rest of the flatbuffer stays valid) with a small flatbuffer walker below: the test states
exactly which field it breaks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from microdeploy import host_runtime, reference
from microdeploy.host_runtime import HostRunnerError
from microdeploy.model.writer import ModelBuilder

# schema.fbs field slots (as runtime_cpp/src/md/model_view.cc).
MODEL_VERSION, MODEL_OPCODES, MODEL_SUBGRAPHS, MODEL_BUFFERS = 0, 1, 2, 4
SG_TENSORS, SG_INPUTS, SG_OUTPUTS, SG_OPERATORS = 0, 1, 2, 3
T_SHAPE, T_TYPE, T_BUFFER, T_QUANT = 0, 1, 2, 4
Q_SCALE, Q_ZERO_POINT, Q_DIM = 2, 3, 6
OP_OPCODE, OP_INPUTS, OP_OUTPUTS = 0, 1, 2


@dataclass
class Flat:
    """Read/patch access to a flatbuffer by table position and field slot."""

    data: bytearray

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.data, pos)[0]

    def field(self, table: int, slot: int) -> int:
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        vsize = struct.unpack_from("<H", self.data, vtable)[0]
        entry = 4 + 2 * slot
        offset = struct.unpack_from("<H", self.data, vtable + entry)[0] if entry < vsize else 0
        assert offset, f"field slot {slot} is absent from the table at {table}"
        return table + offset

    def deref(self, table: int, slot: int) -> int:
        pos = self.field(table, slot)
        return pos + self.u32(pos)

    def vector(self, table: int, slot: int) -> tuple[int, int]:
        """(position of the length word, length)."""
        vec = self.deref(table, slot)
        return vec, self.u32(vec)

    def element_table(self, table: int, slot: int, index: int) -> int:
        vec, count = self.vector(table, slot)
        assert index < count
        pos = vec + 4 + 4 * index
        return pos + self.u32(pos)

    def root(self) -> int:
        return self.u32(0)

    def subgraph(self) -> int:
        return self.element_table(self.root(), MODEL_SUBGRAPHS, 0)

    def tensor(self, i: int) -> int:
        return self.element_table(self.subgraph(), SG_TENSORS, i)

    def operator(self, i: int) -> int:
        return self.element_table(self.subgraph(), SG_OPERATORS, i)

    def quantization(self, tensor: int) -> int:
        return self.deref(self.tensor(tensor), T_QUANT)

    def put(self, fmt: str, pos: int, value: object) -> None:
        struct.pack_into("<" + fmt, self.data, pos, value)


# The base model: input x [1,8] int8 -> FULLY_CONNECTED (per-channel weights [4,8], bias [4])
# -> y [1,4] -> ADD with a constant -> z. Tensor indices are fixed below.
X, W, BIAS, Y, C, Z = range(6)


def base_model() -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "int8", scale=0.5, zero_point=-1, name="x")
    w = b.add_tensor(
        [4, 8],
        "int8",
        data=np.arange(32, dtype=np.int8).reshape(4, 8),
        scale=[0.1, 0.2, 0.3, 0.4],
        zero_point=[0, 0, 0, 0],
    )
    bias = b.add_tensor([4], "int32", data=np.arange(4, dtype=np.int32), scale=0.05)
    y = b.add_tensor([1, 4], "int8", scale=0.5, zero_point=2, name="y")
    c = b.add_tensor([1, 4], "int8", data=np.arange(4, dtype=np.int8), scale=0.5)
    z = b.add_tensor([1, 4], "int8", scale=0.5, name="z")
    assert (x, w, bias, y, c, z) == (X, W, BIAS, Y, C, Z)
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y])
    b.add_operator("ADD", [y, c], [z])
    b.set_io([x], [z])
    return b.build()


def refusal(model: bytes) -> HostRunnerError:
    with pytest.raises(HostRunnerError) as info:
        host_runtime.plan_model(model)  # Init() and AllocateTensors(), sanitized build
    return info.value


def test_base_model_runs_and_matches_tflm() -> None:
    """The unpatched model is fine, so every refusal below is caused by its one patch."""
    x = np.arange(-4, 4, dtype=np.int8).reshape(1, 8)
    ours = host_runtime.run_model(base_model(), [x]).outputs[0]
    if reference.available():
        np.testing.assert_array_equal(ours, reference.tflm_run(base_model(), [x])[0])


def _patch(change: Callable[[Flat], None]) -> bytes:
    flat = Flat(bytearray(base_model()))
    change(flat)
    return bytes(flat.data)


def _dim(tensor: int, d: int, value: int) -> Callable[[Flat], None]:
    def change(f: Flat) -> None:
        vec, _ = f.vector(f.tensor(tensor), T_SHAPE)
        f.put("i", vec + 4 + 4 * d, value)

    return change


def _vector_len(getter: Callable[[Flat], int], slot: int, value: int) -> Callable[[Flat], None]:
    def change(f: Flat) -> None:
        vec, _ = f.vector(getter(f), slot)
        f.put("I", vec, value)

    return change


def _u32_field(getter: Callable[[Flat], int], slot: int, value: int) -> Callable[[Flat], None]:
    def change(f: Flat) -> None:
        f.put("I", f.field(getter(f), slot), value)

    return change


def _vector_entry(
    getter: Callable[[Flat], int], slot: int, index: int, fmt: str, value: object
) -> Callable[[Flat], None]:
    def change(f: Flat) -> None:
        vec, _ = f.vector(getter(f), slot)
        f.put(fmt, vec + 4 + struct.calcsize(fmt) * index, value)

    return change


def _type(tensor: int, code: int) -> Callable[[Flat], None]:
    def change(f: Flat) -> None:
        f.put("b", f.field(f.tensor(tensor), T_TYPE), code)

    return change


CASES = {
    # buffer sizes vs shapes
    "constant data shorter than its shape": (
        _dim(W, 1, 9),
        "MalformedModel",
        "tensors[1].buffer at offset",
        "constant data is 32 bytes, shape x type size needs 36",
    ),
    "buffer index out of range": (
        _u32_field(lambda f: f.tensor(C), T_BUFFER, 77),
        "MalformedModel",
        "tensors[4].buffer",
        "buffer index 77 out of range",
    ),
    # shapes and size arithmetic
    "negative dimension": (_dim(Y, 1, -4), "MalformedModel", "dimension 1 is negative (-4)"),
    "element count overflows 32 bits": (
        lambda f: (_dim(Z, 0, 65536)(f), _dim(Z, 1, 65536)(f)),
        "MalformedModel",
        "tensors[5].shape",
        "more than 2147483647 elements",
    ),
    "2 GB of int32 bias": (
        _dim(BIAS, 0, 0x40000000),
        "MalformedModel",
        "tensors[2].shape",
        "larger than 2 GB",
    ),
    "shape vector runs past the end": (
        _vector_len(lambda f: f.tensor(X), T_SHAPE, 0x3FFFFFFF),
        "MalformedModel",
        "tensors[0].shape",
        "runs past the end of the buffer",
    ),
    # operator and subgraph indices
    "operator input index out of range": (
        _vector_entry(lambda f: f.operator(1), OP_INPUTS, 1, "i", 99),
        "MalformedModel",
        "operators[1]",
        "tensor index 99, model has 6 tensors",
    ),
    "operator output index negative": (
        _vector_entry(lambda f: f.operator(0), OP_OUTPUTS, 0, "i", -1),
        "MalformedModel",
        "operators[0]",
        "tensor index -1",
    ),
    "operator writes a constant tensor": (
        _vector_entry(lambda f: f.operator(1), OP_OUTPUTS, 0, "i", C),
        "MalformedModel",
        "operators[1].outputs",
        "tensor 4 has constant data",
    ),
    "opcode index out of range": (
        _u32_field(lambda f: f.operator(1), OP_OPCODE, 5),
        "MalformedModel",
        "operators[1].opcode_index",
        "opcode index 5 out of range (model has 2 operator codes)",
    ),
    "subgraph input index out of range": (
        _vector_entry(lambda f: f.subgraph(), SG_INPUTS, 0, "i", 6),
        "MalformedModel",
        "subgraphs[0].inputs",
        "tensor index 6, model has 6 tensors",
    ),
    "no subgraph": (
        _vector_len(lambda f: f.root(), MODEL_SUBGRAPHS, 0),
        "MalformedModel",
        "Model.subgraphs",
        "model has no subgraph",
    ),
    "operator vector longer than the file": (
        _vector_len(lambda f: f.subgraph(), SG_OPERATORS, 1 << 28),
        "MalformedModel",
        "subgraphs[0].operators",
        "runs past the end of the buffer",
    ),
    # quantization arrays vs channel counts
    "fewer per-channel scales than channels": (
        lambda f: (
            _vector_len(lambda g: g.quantization(W), Q_SCALE, 3)(f),
            _vector_len(lambda g: g.quantization(W), Q_ZERO_POINT, 3)(f),
        ),
        "MalformedModel",
        "tensors[1].quantization",
        "3 per-channel scales for 4 channels (dimension 0)",
    ),
    "scales and zero points disagree": (
        _vector_len(lambda f: f.quantization(W), Q_ZERO_POINT, 2),
        "MalformedModel",
        "tensors[1].quantization",
        "4 scales but 2 zero points",
    ),
    "NaN scale": (
        _vector_entry(lambda f: f.quantization(Y), Q_SCALE, 0, "f", float("nan")),
        "MalformedModel",
        "tensors[3].quantization",
        "scale 0 is negative, NaN or infinite",
    ),
    "negative scale": (
        _vector_entry(lambda f: f.quantization(X), Q_SCALE, 0, "f", -0.5),
        "MalformedModel",
        "tensors[0].quantization",
        "scale 0 is negative, NaN or infinite",
    ),
    "int8 zero point out of range": (
        _vector_entry(lambda f: f.quantization(Y), Q_ZERO_POINT, 0, "q", 300),
        "MalformedModel",
        "tensors[3].quantization",
        "zero point 0 is 300, outside [-128, 127] for type INT8",
    ),
    "int32 zero point beyond 32 bits": (
        _vector_entry(lambda f: f.quantization(BIAS), Q_ZERO_POINT, 0, "q", 1 << 40),
        "MalformedModel",
        "tensors[2].quantization",
        "zero point 0 is",
        "outside [-2147483648, 2147483647] for type INT32",
    ),
    # versions and types
    "schema version 2": (
        _u32_field(lambda f: f.root(), MODEL_VERSION, 2),
        "MalformedModel",
        "schema version 2, expected 3",
    ),
    "string tensor": (
        _type(Z, 5),
        "UnsupportedType",
        "unsupported model: tensors[5].type",
        "tensor type STRING (5) is not supported",
    ),
    "complex64 tensor": (_type(Y, 8), "UnsupportedType", "tensor type COMPLEX64 (8)"),
    "unknown tensor type": (_type(X, 99), "UnsupportedType", "tensor type UNKNOWN (99)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_field_is_refused_by_name(case: str) -> None:
    change, kind, *needles = CASES[case]
    error = refusal(_patch(change))
    assert error.kind == kind, f"{case}: {error.kind}: {error.message}"
    for needle in needles:
        assert needle in error.message, f"{case}: {needle!r} not in {error.message!r}"
    assert "\n" not in error.message


def test_unsupported_op_is_named_with_its_index() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "int8", scale=0.5)
    y = b.add_tensor([1, 4], "int8", scale=0.5)
    z = b.add_tensor([1, 4], "int8", scale=0.5)
    b.add_operator("ADD", [x, x], [y])
    b.add_operator("GELU", [y], [z])
    b.set_io([x], [z])
    error = refusal(b.build())
    assert error.kind == "UnsupportedOp"
    assert "op 1 (GELU) is not supported by this build" in error.message


def test_kernel_refuses_shapes_that_disagree_with_weights() -> None:
    """Shapes valid for the flatbuffer but not for the op: the kernel's Prepare names it."""
    error = refusal(_patch(_dim(Y, 1, 5)))  # FC output [1,5] with 4 rows of weights
    assert error.kind == "ShapeMismatch"
    assert "op 0 FULLY_CONNECTED" in error.message and "output depth 5" in error.message


def test_hostile_float_inputs_quantize_like_tflm() -> None:
    """NaN, infinities and 1e30 into QUANTIZE: no undefined float->int conversion, and the
    same bytes as TFLM's reference (x86 turns out-of-range casts into INT32_MIN)."""
    if not reference.available():
        pytest.skip("tflite-micro is not installed")
    values = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, 0.25, -0.25]], np.float32)
    for dtype, zero_point in (("int8", -5), ("int8", 7), ("int16", 0)):
        b = ModelBuilder()
        x = b.add_tensor([1, 8], "float32")
        y = b.add_tensor([1, 8], dtype, scale=1e-3, zero_point=zero_point)
        b.add_operator("QUANTIZE", [x], [y])
        b.set_io([x], [y])
        model = b.build()
        ours = host_runtime.run_model(model, [values]).outputs[0]
        np.testing.assert_array_equal(ours, reference.tflm_run(model, [values])[0])
