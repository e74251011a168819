"""Read a .tflite file into typed, immutable Python objects, refusing anything malformed.

Every read goes through `_Buffer`, which checks bounds before unpacking, and every reference is
validated (tensor, buffer and op-code indices in range, constant data sized like its tensor), so a
truncated, corrupted or hostile file ends in one `ModelError` whose message says where
(`subgraphs[0].tensors[12].shape: vector runs past the end of the file`), never in an
IndexError or struct.error.

The layout is flatbuffers' (as the `flatbuffers` package reads it): a table starts with an int32
offset back to its vtable; the vtable holds its own size, the table's inline size and one uint16
field offset per slot (0 = absent, so the schema default applies); references are uint32 offsets
forward from where they are stored; vectors and strings start with a uint32 length.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from microdeploy.errors import ModelError
from microdeploy.model import schema
from microdeploy.model.schema import (
    BufferSlot,
    MetadataSlot,
    ModelSlot,
    OperatorCodeSlot,
    OperatorSlot,
    QuantizationSlot,
    SubGraphSlot,
    TensorSlot,
    TensorType,
)

_HINT = "the file is not a valid .tflite model; re-export it or check the download"


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: TensorType
    buffer: int
    buffer_size: int  # bytes of constant data in the model (0: computed at run time)
    is_variable: bool
    quantization: Quantization | None

    @property
    def is_constant(self) -> bool:
        return self.buffer_size > 0 and not self.is_variable

    @property
    def dtype(self) -> str:
        """numpy dtype name ("int8"); "" for types numpy cannot hold (string, int4)."""
        return schema.TENSOR_TYPE_DTYPES.get(self.type, "")

    @property
    def num_elements(self) -> int:
        count = 1
        for d in self.shape:
            count *= d
        return count

    @property
    def nbytes(self) -> int:
        return self.num_elements * schema.TENSOR_TYPE_SIZES.get(self.type, 0)


@dataclass(frozen=True)
class Operator:
    index: int
    opcode_index: int
    builtin_code: int
    name: str  # TFLite's op name ("CONV_2D"), "CUSTOM" for custom ops
    custom_code: str
    version: int
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    options_type: str  # BuiltinOptions table name, "" when the op has none
    options: Mapping[str, object]  # every field of that table by name (defaults filled in)


@dataclass(frozen=True)
class SubGraph:
    name: str
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: tuple[Operator, ...]


@dataclass(frozen=True)
class Model:
    version: int
    description: str
    subgraphs: tuple[SubGraph, ...]
    buffer_sizes: tuple[int, ...]
    metadata_names: tuple[str, ...]
    size: int  # bytes of the whole file
    _data: bytes = field(repr=False, compare=False)
    _buffer_spans: tuple[tuple[int, int], ...] = field(repr=False, compare=False)

    # Subgraph 0 is the model's entry point; most callers only need it.
    @property
    def main(self) -> SubGraph:
        return self.subgraphs[0]

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.main.tensors

    @property
    def operators(self) -> tuple[Operator, ...]:
        return self.main.operators

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return tuple(self.main.tensors[i] for i in self.main.inputs)

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        return tuple(self.main.tensors[i] for i in self.main.outputs)

    def buffer_data(self, index: int) -> bytes:
        start, size = self._buffer_spans[index]
        return self._data[start : start + size]

    def tensor_data(self, tensor: Tensor) -> np.ndarray:
        """A constant tensor's values (read-only array of its shape)."""
        if not tensor.is_constant or not tensor.dtype:
            raise ModelError(f"tensor {tensor.index} ({tensor.name!r}) has no constant data")
        raw = self.buffer_data(tensor.buffer)
        return np.frombuffer(raw, np.dtype(tensor.dtype).newbyteorder("<")).reshape(tensor.shape)


def read_model(source: str | Path | bytes | bytearray | memoryview) -> Model:
    """Parse a .tflite file (path or bytes); raises ModelError naming what is wrong."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{path}: no such file", hint="check the model path") from None
        except IsADirectoryError:
            raise ModelError(
                f"{path}: is a directory, expected a .tflite file", hint="check the model path"
            ) from None
        except OSError as exc:
            raise ModelError(
                f"{path}: cannot read ({exc.strerror})", hint="check the file's permissions"
            ) from None
        try:
            return _parse(data)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc.message}", hint=exc.hint) from None
    return _parse(bytes(source))


class _Buffer:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def check(self, pos: int, length: int, where: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise ModelError(
                f"truncated or corrupt model: {where} at byte {pos} runs past the end of the"
                f" file ({self.size} bytes)",
                hint=_HINT,
            )

    def unpack(self, fmt: str, pos: int, where: str) -> int | float:
        self.check(pos, struct.calcsize(fmt), where)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int, where: str) -> _Table:
        vtable = pos - int(self.unpack("<i", pos, where))
        vsize = int(self.unpack("<H", vtable, f"{where} vtable"))
        inline = int(self.unpack("<H", vtable + 2, f"{where} vtable"))
        if vsize < 4 or vsize % 2:
            raise ModelError(f"corrupt model: {where} has a bad vtable size {vsize}", hint=_HINT)
        self.check(vtable, vsize, f"{where} vtable")
        self.check(pos, inline, where)
        return _Table(self, pos, vtable, vsize, inline, where)


class _Table:
    def __init__(self, buf: _Buffer, pos: int, vtable: int, vsize: int, inline: int, where: str):
        self.buf, self.pos, self.vtable, self.vsize, self.inline = buf, pos, vtable, vsize, inline
        self.where = where

    def _field(self, slot: int, width: int, name: str) -> int:
        """Absolute position of a field, 0 if absent; checks it lies inside the table."""
        entry = 4 + 2 * slot
        if entry + 2 > self.vsize:
            return 0
        off = int(self.buf.unpack("<H", self.vtable + entry, self.where))
        if off == 0:
            return 0
        if off + width > self.inline:
            raise ModelError(
                f"corrupt model: {self.where}.{name} lies outside its table", hint=_HINT
            )
        return self.pos + off

    def scalar(self, slot: int, fmt: str, default: int | float, name: str) -> int | float:
        pos = self._field(slot, struct.calcsize(fmt), name)
        return default if pos == 0 else self.buf.unpack(fmt, pos, f"{self.where}.{name}")

    def _ref(self, slot: int, name: str) -> int:
        pos = self._field(slot, 4, name)
        if pos == 0:
            return 0
        return pos + int(self.buf.unpack("<I", pos, f"{self.where}.{name}"))

    def table(self, slot: int, name: str) -> _Table | None:
        target = self._ref(slot, name)
        return None if target == 0 else self.buf.table(target, f"{self.where}.{name}")

    def vector(self, slot: int, elem_size: int, name: str) -> tuple[int, int]:
        """(start of elements, count); (0, 0) when absent."""
        target = self._ref(slot, name)
        if target == 0:
            return 0, 0
        where = f"{self.where}.{name}"
        count = int(self.buf.unpack("<I", target, where))
        self.buf.check(target + 4, count * elem_size, where)
        return target + 4, count

    def numbers(self, slot: int, dtype: str, name: str) -> tuple:
        size = np.dtype(dtype).itemsize
        start, count = self.vector(slot, size, name)
        if count == 0:
            return ()
        return tuple(np.frombuffer(self.buf.data, dtype, count, start).tolist())

    def tables(self, slot: int, name: str) -> list[_Table]:
        start, count = self.vector(slot, 4, name)
        out = []
        for i in range(count):
            pos = start + 4 * i
            target = pos + int(self.buf.unpack("<I", pos, f"{self.where}.{name}[{i}]"))
            out.append(self.buf.table(target, f"{self.where}.{name}[{i}]"))
        return out

    def string(self, slot: int, name: str) -> str:
        start, count = self.vector(slot, 1, name)
        return self.buf.data[start : start + count].decode("utf-8", errors="replace")


def _corrupt(message: str) -> ModelError:
    return ModelError(f"corrupt model: {message}", hint=_HINT)


def _parse(data: bytes) -> Model:
    if len(data) < 8:
        raise ModelError(f"not a TFLite model: only {len(data)} bytes", hint=_HINT)
    if data[4:8] != schema.FILE_IDENTIFIER:
        raise ModelError(
            f"not a TFLite model: file identifier is {data[4:8]!r}, expected b'TFL3'",
            hint="pass a .tflite flatbuffer (TensorFlow Lite converter output)",
        )
    buf = _Buffer(data)
    root = buf.table(int(buf.unpack("<I", 0, "root offset")), "model")
    version = int(root.scalar(ModelSlot.VERSION, "<I", 0, "version"))
    if version != schema.SCHEMA_VERSION:
        raise ModelError(
            f"unsupported TFLite schema version {version} (expected 3)",
            hint="convert the model with a current TensorFlow Lite converter",
        )
    buffer_spans = tuple(
        _buffer_span(buf, t, i) for i, t in enumerate(root.tables(ModelSlot.BUFFERS, "buffers"))
    )
    opcodes = [
        _operator_code(t, i)
        for i, t in enumerate(root.tables(ModelSlot.OPERATOR_CODES, "operator_codes"))
    ]
    subgraph_tables = root.tables(ModelSlot.SUBGRAPHS, "subgraphs")
    if not subgraph_tables:
        raise _corrupt("the model has no subgraphs")
    subgraphs = tuple(_subgraph(t, i, buffer_spans, opcodes) for i, t in enumerate(subgraph_tables))
    metadata = tuple(
        t.string(MetadataSlot.NAME, "name") for t in root.tables(ModelSlot.METADATA, "metadata")
    )
    return Model(
        version=version,
        description=root.string(ModelSlot.DESCRIPTION, "description"),
        subgraphs=subgraphs,
        buffer_sizes=tuple(size for _, size in buffer_spans),
        metadata_names=metadata,
        size=len(data),
        _data=data,
        _buffer_spans=buffer_spans,
    )


def _buffer_span(buf: _Buffer, table: _Table, index: int) -> tuple[int, int]:
    start, count = table.vector(BufferSlot.DATA, 1, "data")
    if count:
        return start, count
    # Models over 2 GB keep data outside the flatbuffer: offset from the file start, size.
    offset = int(table.scalar(BufferSlot.OFFSET, "<Q", 0, "offset"))
    size = int(table.scalar(BufferSlot.SIZE, "<Q", 0, "size"))
    if offset > 1:
        buf.check(offset, size, f"buffers[{index}] external data")
        return offset, size
    return 0, 0


def _operator_code(table: _Table, index: int) -> tuple[int, str, int]:
    deprecated = int(table.scalar(OperatorCodeSlot.DEPRECATED_BUILTIN_CODE, "<b", 0, "code"))
    builtin = int(table.scalar(OperatorCodeSlot.BUILTIN_CODE, "<i", 0, "builtin_code"))
    # TFLM's rule: the larger of the two (old files only set the deprecated int8 field).
    code = max(deprecated, builtin)
    if code < 0:
        raise _corrupt(f"operator_codes[{index}] has a negative op code {code}")
    custom = table.string(OperatorCodeSlot.CUSTOM_CODE, "custom_code")
    version = int(table.scalar(OperatorCodeSlot.VERSION, "<i", 1, "version"))
    return code, custom, version


def _subgraph(
    table: _Table,
    index: int,
    buffer_spans: tuple[tuple[int, int], ...],
    opcodes: list[tuple[int, str, int]],
) -> SubGraph:
    where = f"subgraphs[{index}]"
    tensors = tuple(
        _tensor(t, i, buffer_spans, f"{where}.tensors[{i}]")
        for i, t in enumerate(table.tables(SubGraphSlot.TENSORS, "tensors"))
    )
    inputs = table.numbers(SubGraphSlot.INPUTS, "<i4", "inputs")
    outputs = table.numbers(SubGraphSlot.OUTPUTS, "<i4", "outputs")
    for kind, indices in (("inputs", inputs), ("outputs", outputs)):
        for t in indices:
            if not 0 <= t < len(tensors):
                raise _corrupt(f"{where}.{kind} names tensor {t}; there are {len(tensors)}")
    operators = tuple(
        _operator(t, i, opcodes, len(tensors), f"{where}.operators[{i}]")
        for i, t in enumerate(table.tables(SubGraphSlot.OPERATORS, "operators"))
    )
    return SubGraph(table.string(SubGraphSlot.NAME, "name"), tensors, inputs, outputs, operators)


def _tensor(
    table: _Table, index: int, buffer_spans: tuple[tuple[int, int], ...], where: str
) -> Tensor:
    table.where = where
    shape = table.numbers(TensorSlot.SHAPE, "<i4", "shape")
    if any(d < 0 for d in shape):
        raise _corrupt(f"{where} has a negative dimension in shape {list(shape)}")
    raw_type = int(table.scalar(TensorSlot.TYPE, "<b", 0, "type"))
    try:
        ttype = TensorType(raw_type)
    except ValueError:
        raise _corrupt(f"{where} has unknown tensor type {raw_type}") from None
    buffer = int(table.scalar(TensorSlot.BUFFER, "<I", 0, "buffer"))
    if buffer >= len(buffer_spans) and not (buffer == 0 and not buffer_spans):
        raise _corrupt(f"{where} uses buffer {buffer}; there are {len(buffer_spans)}")
    buffer_size = buffer_spans[buffer][1] if buffer_spans else 0
    tensor = Tensor(
        index=index,
        name=table.string(TensorSlot.NAME, "name"),
        shape=shape,
        type=ttype,
        buffer=buffer,
        buffer_size=buffer_size,
        is_variable=bool(table.scalar(TensorSlot.IS_VARIABLE, "<B", 0, "is_variable")),
        quantization=_quantization(table.table(TensorSlot.QUANTIZATION, "quantization"), shape),
    )
    if buffer_size and tensor.nbytes and buffer_size != tensor.nbytes:
        raise _corrupt(
            f"{where} ({tensor.name!r}) has {buffer_size} data bytes; shape {list(shape)}"
            f" of {ttype.name} needs {tensor.nbytes}"
        )
    return tensor


def _quantization(table: _Table | None, shape: tuple[int, ...]) -> Quantization | None:
    if table is None:
        return None
    scale = table.numbers(QuantizationSlot.SCALE, "<f4", "scale")
    zero_point = table.numbers(QuantizationSlot.ZERO_POINT, "<i8", "zero_point")
    dim = int(table.scalar(QuantizationSlot.QUANTIZED_DIMENSION, "<i", 0, "quantized_dimension"))
    if not scale:
        return None  # float tensors often carry an empty quantization table
    if zero_point and len(zero_point) != len(scale):
        raise _corrupt(f"{table.where} has {len(scale)} scales but {len(zero_point)} zero points")
    # quantized_dimension is not checked against the shape: real converter output (person_detect's
    # biases: shape [8], dimension 3) gets it wrong and TFLM ignores it for 1-D tensors.
    return Quantization(scale, zero_point or (0,) * len(scale), dim)


def _operator(
    table: _Table, index: int, opcodes: list[tuple[int, str, int]], num_tensors: int, where: str
) -> Operator:
    table.where = where
    opcode_index = int(table.scalar(OperatorSlot.OPCODE_INDEX, "<I", 0, "opcode_index"))
    if opcode_index >= len(opcodes):
        raise _corrupt(f"{where} uses op code {opcode_index}; there are {len(opcodes)}")
    code, custom, version = opcodes[opcode_index]
    inputs = table.numbers(OperatorSlot.INPUTS, "<i4", "inputs")
    outputs = table.numbers(OperatorSlot.OUTPUTS, "<i4", "outputs")
    intermediates = table.numbers(OperatorSlot.INTERMEDIATES, "<i4", "intermediates")
    for kind, indices, lowest in (
        ("inputs", inputs, -1),
        ("outputs", outputs, 0),
        ("intermediates", intermediates, 0),
    ):
        for t in indices:
            if not lowest <= t < num_tensors:
                raise _corrupt(f"{where}.{kind} names tensor {t}; there are {num_tensors}")
    options_type, options = _options(table)
    return Operator(
        index=index,
        opcode_index=opcode_index,
        builtin_code=code,
        name=schema.builtin_op_name(code),
        custom_code=custom,
        version=version,
        inputs=inputs,
        outputs=outputs,
        intermediates=intermediates,
        options_type=options_type,
        options=options,
    )


_SCALAR_FORMATS = {"int32": "<i", "uint32": "<I", "int64": "<q", "float32": "<f", "bool": "<B"}
_VECTOR_DTYPES = {"int32": "<i4", "float32": "<f4", "int64": "<i8", "uint8": "u1"}


def _options(op: _Table) -> tuple[str, Mapping[str, object]]:
    type_id = int(op.scalar(OperatorSlot.BUILTIN_OPTIONS_TYPE, "<B", 0, "builtin_options_type"))
    if type_id == 0:
        return "", MappingProxyType({})
    if type_id > len(schema.BUILTIN_OPTIONS):
        # A newer schema's options table: keep the op, skip its options.
        return f"UNKNOWN_{type_id}", MappingProxyType({})
    name = schema.BUILTIN_OPTIONS[type_id - 1]
    table = op.table(OperatorSlot.BUILTIN_OPTIONS, "builtin_options")
    values: dict[str, object] = {}
    for slot, f in enumerate(schema.OPTIONS_TABLES[name]):
        if f.kind == "deprecated":
            continue
        if table is None:
            values[f.name] = _default(f)
        elif f.kind.startswith("enum:"):
            raw = int(table.scalar(slot, "<b", int(f.default or 0), f.name))
            enum = schema.ENUMS[f.kind[5:]]
            values[f.name] = enum(raw).name if raw in enum._value2member_map_ else raw
        elif f.kind.startswith("vector:"):
            values[f.name] = table.numbers(slot, _VECTOR_DTYPES[f.kind[7:]], f.name)
        elif f.kind == "string":
            values[f.name] = table.string(slot, f.name)
        else:
            default = f.default if f.default is not None else 0
            raw_value = table.scalar(slot, _SCALAR_FORMATS[f.kind], default, f.name)
            values[f.name] = bool(raw_value) if f.kind == "bool" else raw_value
    return name, MappingProxyType(values)


def _default(f: schema.Field) -> object:
    if f.kind.startswith("enum:"):
        return schema.ENUMS[f.kind[5:]](int(f.default or 0)).name
    if f.kind.startswith("vector:"):
        return ()
    if f.kind == "string":
        return ""
    return f.default
