"""Our schema facts against two other sources: tflite-micro's generated schema (field slots,
defaults, enum values) and the C++ runtime's md/types.h (op codes and type values)."""

from __future__ import annotations

import inspect
import re

import pytest

from microdeploy import paths
from microdeploy.model import schema

schema_fb = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")

_PREPEND_KIND = {
    "Int8": "enum:",
    "Int32": "int32",
    "Uint32": "uint32",
    "Int64": "int64",
    "Float32": "float32",
    "Bool": "bool",
    "UOffsetTRelative": "",
}


def _members(cls: type) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if isinstance(v, int) and not k.startswith("_")}


@pytest.mark.parametrize(
    "enum",
    [
        schema.TensorType,
        schema.BuiltinOperator,
        schema.Padding,
        schema.ActivationFunctionType,
        schema.FullyConnectedOptionsWeightsFormat,
    ],
)
def test_enum_values_match_the_generated_schema(enum: type) -> None:
    generated = _members(getattr(schema_fb, enum.__name__))
    ours = {m.name: int(m) for m in enum}  # type: ignore[attr-defined]
    # The installed package may be newer than our copy: every value we have must agree.
    assert {k: generated[k] for k in ours} == ours


def test_builtin_options_union_order_matches() -> None:
    generated = _members(schema_fb.BuiltinOptions)
    for name in schema.BUILTIN_OPTIONS:
        assert generated[name] == schema.builtin_options_type(name), name


@pytest.mark.parametrize("table", sorted(schema.OPTIONS_TABLES))
def test_options_table_slots_kinds_and_defaults(table: str) -> None:
    fields = schema.OPTIONS_TABLES[table]
    start = inspect.getsource(getattr(schema_fb, table + "Start"))
    assert int(re.search(r"StartObject\((\d+)\)", start).group(1)) == len(fields)
    for slot, field in enumerate(fields):
        camel = "".join(part.capitalize() for part in field.name.split("_"))
        adder = getattr(schema_fb, f"{table}Add{camel}", None)
        if field.kind == "deprecated":
            continue
        if adder is None:  # camel-casing differs only in letter case (e.g. "Int16")
            candidates = [n for n in dir(schema_fb) if n.lower() == f"{table}add{camel}".lower()]
            assert candidates, f"{table}.{field.name} not in generated schema"
            adder = getattr(schema_fb, candidates[0])
        m = re.search(r"Prepend(\w+)Slot\((\d+), .*?, (.+)\)\s*$", inspect.getsource(adder), re.S)
        assert int(m.group(2)) == slot, field
        assert field.kind.startswith(_PREPEND_KIND[m.group(1)]), field
        if field.kind.startswith(("vector:", "string")):
            assert m.group(1) == "UOffsetTRelative"
        elif field.kind == "float32":
            assert float(m.group(3)) == field.default
        else:
            assert int(m.group(3)) == int(field.default), field  # type: ignore[arg-type]


def test_the_tables_the_runtime_parses_have_the_schema_fields_in_order() -> None:
    names = {t: [f.name for f in fs] for t, fs in schema.OPTIONS_TABLES.items()}
    assert names["Conv2DOptions"][:6] == [
        "padding",
        "stride_w",
        "stride_h",
        "fused_activation_function",
        "dilation_w_factor",
        "dilation_h_factor",
    ]
    assert names["DepthwiseConv2DOptions"][3] == "depth_multiplier"
    assert names["Pool2DOptions"][3:5] == ["filter_width", "filter_height"]
    assert names["SVDFOptions"] == [
        "rank",
        "fused_activation_function",
        "asymmetric_quantize_inputs",
    ]
    assert schema.OP_OPTIONS["MEAN"] == "ReducerOptions"
    assert schema.OP_OPTIONS["AVERAGE_POOL_2D"] == "Pool2DOptions"
    assert "LOGISTIC" not in schema.OP_OPTIONS and "TANH" not in schema.OP_OPTIONS


def test_runtime_header_op_codes_and_types_agree() -> None:
    header = paths.runtime_dir() / "src/md/types.h"
    if not header.is_file():
        pytest.skip("runtime_cpp/src/md/types.h is absent")
    text = header.read_text()
    ops = re.findall(r"kOp(\w+) = (\d+),", text)
    assert len(ops) >= 19
    by_value = {int(v): k for k, v in ops}
    for value, camel in by_value.items():
        name = schema.BuiltinOperator(value).name
        assert name.replace("_", "").lower() == camel.lower(), (value, camel, name)
    types = dict(re.findall(r"k(\w+) = (\d+),", text.split("enum class DataType")[1].split("}")[0]))
    for camel, value in types.items():
        assert schema.TensorType[camel.upper()] == int(value)
