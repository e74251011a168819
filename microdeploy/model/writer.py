"""Build .tflite flatbuffers from Python: one-op test models and our own example models.

Usage:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "int8", scale=0.5, zero_point=-1)
    w = b.add_tensor([3, 4], "int8", data=weights, scale=[0.1, 0.2, 0.3], quantized_dimension=0)
    y = b.add_tensor([1, 3], "int8", scale=0.25, zero_point=0)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})
    b.set_io([x], [y])
    data = b.build()

Every constant tensor gets its own buffer; buffer 0 is the schema's empty sentinel. Buffer data
is aligned to 16 bytes in the output, so a runtime can read int32/int64/float data in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import flatbuffers
import numpy as np

from microdeploy.errors import ModelError
from microdeploy.model import schema
from microdeploy.model.schema import (
    BufferSlot,
    BuiltinOperator,
    ModelSlot,
    OperatorCodeSlot,
    OperatorSlot,
    QuantizationSlot,
    SubGraphSlot,
    TensorSlot,
    TensorType,
)

BUFFER_ALIGNMENT = 16

_DTYPE_TO_TENSOR_TYPE: dict[str, TensorType] = {
    dtype: ttype for ttype, dtype in schema.TENSOR_TYPE_DTYPES.items()
}


def tensor_type_of(dtype: object) -> TensorType:
    """TensorType for "int8", np.int8, np.dtype("int8") or a TensorType."""
    known = ", ".join(sorted(_DTYPE_TO_TENSOR_TYPE))
    if isinstance(dtype, str) and dtype.upper() in TensorType.__members__:
        dtype = TensorType[dtype.upper()]
    if isinstance(dtype, TensorType):
        if dtype not in schema.TENSOR_TYPE_DTYPES:
            raise ModelError(f"unsupported tensor dtype {dtype.name}", hint=f"use one of: {known}")
        return dtype
    try:
        name = np.dtype(dtype).name  # type: ignore[call-overload]
    except TypeError:
        name = ""
    if name not in _DTYPE_TO_TENSOR_TYPE:
        raise ModelError(f"unsupported tensor dtype {dtype!r}", hint=f"use one of: {known}")
    return _DTYPE_TO_TENSOR_TYPE[name]


@dataclass(frozen=True)
class _TensorSpec:
    shape: tuple[int, ...]
    ttype: TensorType
    data: bytes | None
    scale: tuple[float, ...] | None
    zero_point: tuple[int, ...] | None
    quantized_dimension: int
    name: str
    is_variable: bool


@dataclass(frozen=True)
class _OperatorSpec:
    code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_table: str | None
    options: dict[str, object]
    intermediates: tuple[int, ...]


@dataclass
class ModelBuilder:
    """Collects tensors and operators of one subgraph, then serializes them with build()."""

    description: str = "microdeploy"
    _tensors: list[_TensorSpec] = field(default_factory=list)
    _operators: list[_OperatorSpec] = field(default_factory=list)
    _inputs: tuple[int, ...] = ()
    _outputs: tuple[int, ...] = ()

    def add_tensor(
        self,
        shape: Sequence[int],
        dtype: object,
        data: object = None,
        scale: float | Sequence[float] | None = None,
        zero_point: int | Sequence[int] | None = None,
        quantized_dimension: int = 0,
        name: str = "",
        is_variable: bool = False,
    ) -> int:
        """Add a tensor and return its index. `data` makes it a constant (array or raw bytes)."""
        shape_t = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape_t):
            raise ModelError(f"tensor {name or len(self._tensors)}: negative dimension {shape_t}")
        ttype = tensor_type_of(dtype)
        raw = None if data is None else _tensor_bytes(data, ttype, shape_t, name)
        scales, zero_points = _quantization(scale, zero_point, name)
        if scales is not None and len(scales) > 1:
            if not 0 <= quantized_dimension < len(shape_t):
                raise ModelError(
                    f"tensor {name!r}: quantized_dimension {quantized_dimension} outside shape"
                    f" {shape_t}"
                )
            if shape_t[quantized_dimension] != len(scales):
                raise ModelError(
                    f"tensor {name!r}: {len(scales)} scales for dimension"
                    f" {quantized_dimension} of size {shape_t[quantized_dimension]}"
                )
        self._tensors.append(
            _TensorSpec(
                shape_t, ttype, raw, scales, zero_points, quantized_dimension, name, is_variable
            )
        )
        return len(self._tensors) - 1

    def add_operator(
        self,
        op_name: str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Mapping[str, object] | None = None,
        intermediates: Sequence[int] = (),
    ) -> int:
        """Add a builtin op (TFLite name, e.g. "CONV_2D"); -1 marks an omitted optional input."""
        try:
            code = BuiltinOperator[op_name.upper()]
        except KeyError:
            raise ModelError(
                f"unknown builtin op {op_name!r}", hint="use TFLite's name, e.g. CONV_2D"
            ) from None
        table = schema.OP_OPTIONS.get(code.name)
        options = dict(options or {})
        if table is None and options:
            raise ModelError(f"{code.name} takes no options, got {sorted(options)}")
        if table is not None:
            _check_options(code.name, table, options)
        for index in (*inputs, *outputs, *intermediates):
            if index != -1 and not 0 <= index < len(self._tensors):
                raise ModelError(f"{code.name}: tensor index {index} does not exist")
        self._operators.append(
            _OperatorSpec(
                int(code), tuple(inputs), tuple(outputs), table, options, tuple(intermediates)
            )
        )
        return len(self._operators) - 1

    def set_io(self, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        for index in (*inputs, *outputs):
            if not 0 <= index < len(self._tensors):
                raise ModelError(f"subgraph input/output tensor {index} does not exist")
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)

    def build(self) -> bytes:
        """Serialize to .tflite bytes (file identifier TFL3, schema version 3)."""
        if not self._outputs:
            raise ModelError("model has no outputs", hint="call set_io(inputs, outputs) first")
        data_size = sum(len(t.data or b"") for t in self._tensors)
        builder = flatbuffers.Builder(data_size + 4096)

        buffer_offsets = [_write_buffer(builder, None)]
        tensor_buffer: list[int] = []
        for tensor in self._tensors:
            if tensor.data is None:
                tensor_buffer.append(0)
            else:
                tensor_buffer.append(len(buffer_offsets))
                buffer_offsets.append(_write_buffer(builder, tensor.data))

        tensor_offsets = [
            _write_tensor(builder, t, buf)
            for t, buf in zip(self._tensors, tensor_buffer, strict=True)
        ]
        opcodes: list[int] = []
        operator_offsets = []
        for op in self._operators:
            if op.code not in opcodes:
                opcodes.append(op.code)
            operator_offsets.append(_write_operator(builder, op, opcodes.index(op.code)))

        tensors_vec = _offset_vector(builder, tensor_offsets)
        inputs_vec = _int32_vector(builder, self._inputs)
        outputs_vec = _int32_vector(builder, self._outputs)
        operators_vec = _offset_vector(builder, operator_offsets)
        name = builder.CreateString("main")
        builder.StartObject(len(SubGraphSlot))
        builder.PrependUOffsetTRelativeSlot(SubGraphSlot.TENSORS, tensors_vec, 0)
        builder.PrependUOffsetTRelativeSlot(SubGraphSlot.INPUTS, inputs_vec, 0)
        builder.PrependUOffsetTRelativeSlot(SubGraphSlot.OUTPUTS, outputs_vec, 0)
        builder.PrependUOffsetTRelativeSlot(SubGraphSlot.OPERATORS, operators_vec, 0)
        builder.PrependUOffsetTRelativeSlot(SubGraphSlot.NAME, name, 0)
        subgraph = builder.EndObject()

        opcode_offsets = [_write_operator_code(builder, code) for code in opcodes]
        opcodes_vec = _offset_vector(builder, opcode_offsets)
        subgraphs_vec = _offset_vector(builder, [subgraph])
        buffers_vec = _offset_vector(builder, buffer_offsets)
        description = builder.CreateString(self.description)
        builder.StartObject(len(ModelSlot))
        builder.PrependUint32Slot(ModelSlot.VERSION, schema.SCHEMA_VERSION, 0)
        builder.PrependUOffsetTRelativeSlot(ModelSlot.OPERATOR_CODES, opcodes_vec, 0)
        builder.PrependUOffsetTRelativeSlot(ModelSlot.SUBGRAPHS, subgraphs_vec, 0)
        builder.PrependUOffsetTRelativeSlot(ModelSlot.DESCRIPTION, description, 0)
        builder.PrependUOffsetTRelativeSlot(ModelSlot.BUFFERS, buffers_vec, 0)
        model = builder.EndObject()
        builder.Finish(model, file_identifier=schema.FILE_IDENTIFIER)
        return bytes(builder.Output())


def _tensor_bytes(data: object, ttype: TensorType, shape: tuple[int, ...], name: str) -> bytes:
    count = int(np.prod(shape, dtype=np.int64))
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        expected = count * schema.TENSOR_TYPE_SIZES[ttype]
        if len(raw) != expected:
            raise ModelError(f"tensor {name!r}: {len(raw)} data bytes, shape needs {expected}")
        return raw
    dtype = np.dtype(schema.TENSOR_TYPE_DTYPES[ttype]).newbyteorder("<")
    array = np.asarray(data)
    if array.size != count:
        raise ModelError(f"tensor {name!r}: {array.size} values for shape {list(shape)}")
    if array.dtype.kind == "f" and dtype.kind in "iub":
        raise ModelError(
            f"tensor {name!r}: float data for an integer tensor",
            hint="quantize the values first (np.round, then astype)",
        )
    return np.ascontiguousarray(array.astype(dtype)).tobytes()


def _quantization(
    scale: float | Sequence[float] | None, zero_point: int | Sequence[int] | None, name: str
) -> tuple[tuple[float, ...] | None, tuple[int, ...] | None]:
    if scale is None:
        if zero_point is not None:
            raise ModelError(f"tensor {name!r}: zero_point without scale")
        return None, None
    scales = tuple(float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float64)))
    if zero_point is None:
        zero_points = (0,) * len(scales)
    else:
        zero_points = tuple(int(z) for z in np.atleast_1d(np.asarray(zero_point)))
    if len(zero_points) != len(scales):
        raise ModelError(
            f"tensor {name!r}: {len(scales)} scales but {len(zero_points)} zero points"
        )
    return scales, zero_points


def _check_options(op_name: str, table: str, options: dict[str, object]) -> None:
    fields = {f.name: f for f in schema.OPTIONS_TABLES[table] if f.kind != "deprecated"}
    for key, value in options.items():
        if key not in fields:
            raise ModelError(
                f"{op_name}: {table} has no field {key!r}",
                hint=f"fields: {', '.join(fields) or 'none'}",
            )
        _encode_scalar(op_name, fields[key], value)  # validates; result discarded here


def _encode_scalar(op_name: str, f: schema.Field, value: object) -> object:
    """The stored value of an option (enum names become their integer values)."""
    if f.kind.startswith("enum:"):
        enum = schema.ENUMS[f.kind[5:]]
        if isinstance(value, str):
            if value.upper() not in enum.__members__:
                raise ModelError(
                    f"{op_name}: {f.name}={value!r} is not a {enum.__name__}",
                    hint=f"one of: {', '.join(enum.__members__)}",
                )
            return int(enum[value.upper()])
        return int(enum(int(value)))  # type: ignore[call-overload]
    if f.kind.startswith("vector:"):
        return [int(v) if f.kind != "vector:float32" else float(v) for v in value]  # type: ignore[attr-defined]
    if f.kind == "string":
        return str(value)
    if f.kind == "bool":
        return bool(value)
    if f.kind == "float32":
        return float(value)  # type: ignore[arg-type]
    return int(value)  # type: ignore[call-overload]


_SCALAR_PREPEND = {
    "bool": "PrependBoolSlot",
    "int32": "PrependInt32Slot",
    "uint32": "PrependUint32Slot",
    "int64": "PrependInt64Slot",
    "float32": "PrependFloat32Slot",
}
_VECTOR_NUMPY = {"int32": "<i4", "float32": "<f4", "int64": "<i8", "uint8": "u1"}


def _write_options(builder: flatbuffers.Builder, op: _OperatorSpec) -> int:
    assert op.options_table is not None
    fields = schema.OPTIONS_TABLES[op.options_table]
    offsets: dict[int, int] = {}
    for slot, f in enumerate(fields):
        if f.name not in op.options:
            continue
        value = _encode_scalar("", f, op.options[f.name])
        if f.kind.startswith("vector:"):
            array = np.asarray(value, dtype=_VECTOR_NUMPY[f.kind[7:]])
            offsets[slot] = builder.CreateNumpyVector(array)
        elif f.kind == "string":
            offsets[slot] = builder.CreateString(str(value))
    builder.StartObject(len(fields))
    for slot, f in enumerate(fields):
        if f.name not in op.options:
            continue
        if slot in offsets:
            builder.PrependUOffsetTRelativeSlot(slot, offsets[slot], 0)
            continue
        value = _encode_scalar("", f, op.options[f.name])
        if f.kind.startswith("enum:"):
            builder.PrependInt8Slot(slot, value, f.default)
        else:
            getattr(builder, _SCALAR_PREPEND[f.kind])(slot, value, f.default)
    return builder.EndObject()


def _write_buffer(builder: flatbuffers.Builder, data: bytes | None) -> int:
    data_vec = None
    if data:
        # Like CreateByteVector, but aligned to 16 so int32/float/int64 data can be read in place.
        builder.StartVector(1, len(data), BUFFER_ALIGNMENT)
        builder.head = builder.head - len(data)
        builder.Bytes[builder.head : builder.head + len(data)] = data
        data_vec = builder.EndVector()
    builder.StartObject(len(BufferSlot))
    if data_vec is not None:
        builder.PrependUOffsetTRelativeSlot(BufferSlot.DATA, data_vec, 0)
    return builder.EndObject()


def _write_tensor(builder: flatbuffers.Builder, t: _TensorSpec, buffer_index: int) -> int:
    shape_vec = _int32_vector(builder, t.shape)
    name = builder.CreateString(t.name)
    quant = None
    if t.scale is not None and t.zero_point is not None:
        scale_vec = builder.CreateNumpyVector(np.asarray(t.scale, dtype="<f4"))
        zp_vec = builder.CreateNumpyVector(np.asarray(t.zero_point, dtype="<i8"))
        builder.StartObject(len(QuantizationSlot))
        builder.PrependUOffsetTRelativeSlot(QuantizationSlot.SCALE, scale_vec, 0)
        builder.PrependUOffsetTRelativeSlot(QuantizationSlot.ZERO_POINT, zp_vec, 0)
        builder.PrependInt32Slot(QuantizationSlot.QUANTIZED_DIMENSION, t.quantized_dimension, 0)
        quant = builder.EndObject()
    builder.StartObject(len(TensorSlot))
    builder.PrependUOffsetTRelativeSlot(TensorSlot.SHAPE, shape_vec, 0)
    builder.PrependInt8Slot(TensorSlot.TYPE, int(t.ttype), 0)
    builder.PrependUint32Slot(TensorSlot.BUFFER, buffer_index, 0)
    builder.PrependUOffsetTRelativeSlot(TensorSlot.NAME, name, 0)
    if quant is not None:
        builder.PrependUOffsetTRelativeSlot(TensorSlot.QUANTIZATION, quant, 0)
    builder.PrependBoolSlot(TensorSlot.IS_VARIABLE, t.is_variable, False)
    return builder.EndObject()


def _write_operator(builder: flatbuffers.Builder, op: _OperatorSpec, opcode_index: int) -> int:
    inputs = _int32_vector(builder, op.inputs)
    outputs = _int32_vector(builder, op.outputs)
    intermediates = _int32_vector(builder, op.intermediates) if op.intermediates else None
    options = _write_options(builder, op) if op.options_table else None
    builder.StartObject(OperatorSlot.INTERMEDIATES + 1)
    builder.PrependUint32Slot(OperatorSlot.OPCODE_INDEX, opcode_index, 0)
    builder.PrependUOffsetTRelativeSlot(OperatorSlot.INPUTS, inputs, 0)
    builder.PrependUOffsetTRelativeSlot(OperatorSlot.OUTPUTS, outputs, 0)
    if options is not None and op.options_table is not None:
        options_type = schema.builtin_options_type(op.options_table)
        builder.PrependUint8Slot(OperatorSlot.BUILTIN_OPTIONS_TYPE, options_type, 0)
        builder.PrependUOffsetTRelativeSlot(OperatorSlot.BUILTIN_OPTIONS, options, 0)
    if intermediates is not None:
        builder.PrependUOffsetTRelativeSlot(OperatorSlot.INTERMEDIATES, intermediates, 0)
    return builder.EndObject()


def _write_operator_code(builder: flatbuffers.Builder, code: int) -> int:
    builder.StartObject(len(OperatorCodeSlot))
    deprecated = min(code, schema.PLACEHOLDER_FOR_GREATER_OP_CODES)
    # Written even when 0 (ADD) so old readers see it; ForceDefaults is global, so use Prepend.
    builder.PrependInt8Slot(OperatorCodeSlot.DEPRECATED_BUILTIN_CODE, deprecated, -1)
    builder.PrependInt32Slot(OperatorCodeSlot.VERSION, 1, 0)
    builder.PrependInt32Slot(OperatorCodeSlot.BUILTIN_CODE, code, -1)
    return builder.EndObject()


def _int32_vector(builder: flatbuffers.Builder, values: Sequence[int]) -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype="<i4").reshape(-1))


def _offset_vector(builder: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        builder.PrependUOffsetTRelative(off)
    return builder.EndVector()
