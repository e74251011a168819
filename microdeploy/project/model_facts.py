"""What `init` needs to know about a model: its ops, and its tensors for an arena estimate.

A deliberately small, bounds-checked read of the TFLite flatbuffer; microdeploy.model.reader is
the full reader. Any malformed input becomes a ModelError with one line, never a traceback.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
from flatbuffers.table import Table

from microdeploy.errors import ModelError

# Builtin op codes the runtime implements (mirrors md/types.h BuiltinOp).
RUNTIME_OPS: dict[int, str] = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    22: "RESHAPE",
    25: "SOFTMAX",
    27: "SVDF",
    28: "TANH",
    34: "PAD",
    40: "MEAN",
    44: "UNIDIRECTIONAL_SEQUENCE_LSTM",
    45: "STRIDED_SLICE",
    114: "QUANTIZE",
}

# Bytes per element of TensorType values (0 for types we do not size).
_TYPE_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 16: 4}


@dataclass(frozen=True)
class TensorFacts:
    shape: tuple[int, ...]
    type_code: int
    is_constant: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * _TYPE_BYTES.get(self.type_code, 4)


@dataclass(frozen=True)
class ModelFacts:
    sha256: str
    size: int
    op_codes: tuple[int, ...]  # distinct builtin codes, in first-use order
    tensors: tuple[TensorFacts, ...]  # subgraph 0
    inputs: tuple[int, ...]  # tensor indices of subgraph 0's inputs

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(RUNTIME_OPS.get(code, f"UNKNOWN_{code}") for code in self.op_codes)

    def activation_bytes_upper_bound(self) -> int:
        """Sum of every non-constant tensor (16-byte rounded): the arena head with no reuse."""
        return sum((t.nbytes + 15) // 16 * 16 for t in self.tensors if not t.is_constant)


def _field(table: Table, slot: int) -> int:
    return table.Offset(4 + 2 * slot)


def _sub_table(table: Table, slot: int) -> Table | None:
    off = _field(table, slot)
    if not off:
        return None
    return Table(table.Bytes, table.Indirect(table.Pos + off))


def _vector_tables(table: Table, slot: int) -> list[Table]:
    off = _field(table, slot)
    if not off:
        return []
    start = table.Vector(off)
    return [Table(table.Bytes, table.Indirect(start + 4 * i)) for i in range(table.VectorLen(off))]


def _scalar(table: Table, slot: int, kind: type, default: int) -> int:
    off = _field(table, slot)
    return table.Get(kind, table.Pos + off) if off else default


def _int_vector(table: Table, slot: int) -> tuple[int, ...]:
    off = _field(table, slot)
    if not off:
        return ()
    start = table.Vector(off)
    n = table.VectorLen(off)
    return tuple(table.Get(flatbuffers.number_types.Int32Flags, start + 4 * i) for i in range(n))


def read_model_facts(path: Path) -> ModelFacts:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read model {path}: {exc.strerror}", hint="check the --model path"
        ) from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{path} is not a TFLite model (no TFL3 identifier)",
            hint="pass a .tflite flatbuffer, e.g. one converted with the TFLite converter",
        )
    try:
        return _parse(data)
    except (IndexError, ValueError, TypeError, OverflowError, Exception) as exc:  # noqa: B014
        if isinstance(exc, ModelError):
            raise
        raise ModelError(
            f"{path} is a malformed TFLite model ({type(exc).__name__})",
            hint="the file is truncated or corrupt; convert the model again",
        ) from None


def _parse(data: bytes) -> ModelFacts:
    buf = bytearray(data)
    root = Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    codes = []
    for opcode in _vector_tables(root, 1):
        deprecated = _scalar(opcode, 0, flatbuffers.number_types.Int8Flags, 0)
        builtin = _scalar(opcode, 3, flatbuffers.number_types.Int32Flags, 0)
        codes.append(max(deprecated, builtin))
    subgraphs = _vector_tables(root, 2)
    if not subgraphs:
        raise ModelError("model has no subgraph", hint="convert the model again")
    buffers = _vector_tables(root, 4)
    buffer_has_data = []
    for buffer in buffers:
        data_off = _field(buffer, 0)
        size = _scalar(buffer, 2, flatbuffers.number_types.Uint64Flags, 0)
        buffer_has_data.append(bool(data_off and buffer.VectorLen(data_off)) or size > 0)
    tensors = []
    for tensor in _vector_tables(subgraphs[0], 0):
        shape = _int_vector(tensor, 0)
        type_code = _scalar(tensor, 1, flatbuffers.number_types.Int8Flags, 0)
        buffer_index = _scalar(tensor, 2, flatbuffers.number_types.Uint32Flags, 0)
        constant = 0 <= buffer_index < len(buffer_has_data) and buffer_has_data[buffer_index]
        tensors.append(TensorFacts(tuple(max(d, 1) for d in shape), type_code, constant))
    used: list[int] = []
    for op in _vector_tables(subgraphs[0], 3):
        index = _scalar(op, 0, flatbuffers.number_types.Uint32Flags, 0)
        if index >= len(codes):
            raise ModelError(
                f"operator uses opcode index {index} but the model has {len(codes)} opcodes",
                hint="the model is corrupt; convert it again",
            )
        if codes[index] not in used:
            used.append(codes[index])
    return ModelFacts(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        op_codes=tuple(used),
        tensors=tuple(tensors),
        inputs=_int_vector(subgraphs[0], 1),
    )
