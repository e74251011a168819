"""ModelBuilder output, checked with readers we did not write: tflite-micro's generated flatbuffer
schema classes read every field back, and TFLM's interpreter accepts and runs the models."""

from __future__ import annotations

import numpy as np
import pytest

from microdeploy.errors import ModelError
from microdeploy.model.schema import BuiltinOperator, TensorType
from microdeploy.model.writer import ModelBuilder

schema_fb = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


def _fc_model(activation: str, rng: np.random.Generator) -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "int8", scale=0.5, zero_point=-3, name="x")
    w = b.add_tensor(
        [4, 8], "int8", data=rng.integers(-127, 128, (4, 8)), scale=[0.01, 0.02, 0.03, 0.04]
    )
    bias = b.add_tensor([4], "int32", data=rng.integers(-500, 500, 4), scale=[0.005] * 4)
    y = b.add_tensor([1, 4], "int8", scale=0.05, zero_point=5, name="y")
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y], {"fused_activation_function": activation})
    b.set_io([x], [y])
    return b.build()


def _conv_model(rng: np.random.Generator) -> bytes:
    b = ModelBuilder()
    x = b.add_tensor([1, 9, 9, 3], "int8", scale=0.5, zero_point=-3)
    w = b.add_tensor(
        [5, 3, 3, 3],
        "int8",
        data=rng.integers(-127, 128, (5, 3, 3, 3)),
        scale=np.linspace(0.01, 0.05, 5),
        zero_point=[0] * 5,
        quantized_dimension=0,
    )
    bias = b.add_tensor([5], "int32", data=rng.integers(-1000, 1000, 5), scale=[0.005] * 5)
    y = b.add_tensor([1, 5, 5, 5], "int8", scale=0.3, zero_point=5)
    options = {"padding": "SAME", "stride_w": 2, "stride_h": 2, "dilation_w_factor": 1}
    b.add_operator("CONV_2D", [x, w, bias], [y], {**options, "fused_activation_function": "RELU6"})
    b.set_io([x], [y])
    return b.build()


def _root(model: bytes):
    assert model[4:8] == b"TFL3"
    return schema_fb.Model.GetRootAsModel(model, 0)


def test_fully_connected_runs_in_tflm_and_fused_relu_takes_effect() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (64, 1, 8), dtype=np.int8)
    outputs = {}
    for activation in ("NONE", "RELU"):
        model = _fc_model(activation, np.random.default_rng(7))
        interpreter = runtime.Interpreter.from_bytes(model)
        rows = []
        for sample in x:
            interpreter.set_input(sample, 0)
            interpreter.invoke()
            rows.append(interpreter.get_output(0).copy())
        outputs[activation] = np.concatenate(rows)
    # Same weights: RELU clamps at the output zero point (5), NONE goes below it somewhere.
    assert outputs["NONE"].min() < 5
    assert outputs["RELU"].min() >= 5
    np.testing.assert_array_equal(np.maximum(outputs["NONE"], 5), outputs["RELU"])


def test_conv_model_runs_in_tflm_with_the_declared_output_shape() -> None:
    model = _conv_model(np.random.default_rng(2))
    interpreter = runtime.Interpreter.from_bytes(model)
    interpreter.set_input(np.zeros((1, 9, 9, 3), np.int8), 0)
    interpreter.invoke()
    out = interpreter.get_output(0)
    assert out.shape == (1, 5, 5, 5) and out.dtype == np.int8
    assert out.max() <= 127


def test_generated_schema_reads_back_every_field() -> None:
    rng = np.random.default_rng(3)
    model = _conv_model(rng)
    root = _root(model)
    assert root.Version() == 3
    assert root.BuffersLength() == 3  # sentinel + weights + bias
    assert root.Buffers(0).DataLength() == 0
    sg = root.Subgraphs(0)
    assert sg.InputsAsNumpy().tolist() == [0] and sg.OutputsAsNumpy().tolist() == [3]
    weights = sg.Tensors(1)
    assert weights.ShapeAsNumpy().tolist() == [5, 3, 3, 3]
    assert weights.Type() == TensorType.INT8
    q = weights.Quantization()
    np.testing.assert_allclose(q.ScaleAsNumpy(), np.linspace(0.01, 0.05, 5).astype(np.float32))
    assert q.ZeroPointAsNumpy().tolist() == [0] * 5
    assert q.QuantizedDimension() == 0
    assert sg.Tensors(0).Quantization().ZeroPointAsNumpy().tolist() == [-3]

    op = sg.Operators(0)
    code = root.OperatorCodes(op.OpcodeIndex())
    assert code.BuiltinCode() == BuiltinOperator.CONV_2D
    assert code.DeprecatedBuiltinCode() == BuiltinOperator.CONV_2D
    assert op.BuiltinOptionsType() == schema_fb.BuiltinOptions.Conv2DOptions
    options = schema_fb.Conv2DOptions()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    assert options.Padding() == schema_fb.Padding.SAME
    assert (options.StrideW(), options.StrideH()) == (2, 2)
    assert options.FusedActivationFunction() == schema_fb.ActivationFunctionType.RELU6
    assert (options.DilationWFactor(), options.DilationHFactor()) == (1, 1)


@pytest.mark.parametrize(
    "dtype", ["int8", "int16", "int32", "int64", "float32", "uint8", "bool", "float64"]
)
def test_constant_data_of_every_type_is_stored_aligned_and_unchanged(dtype: str) -> None:
    rng = np.random.default_rng(4)
    values = (rng.standard_normal(7) * 100).astype(dtype)
    b = ModelBuilder()
    pad = b.add_tensor([3], "int8", data=np.arange(3))  # an odd-sized buffer before ours
    t = b.add_tensor([7], dtype, data=values)
    out = b.add_tensor([7], dtype)
    b.add_operator("ADD", [t, pad], [out])
    b.set_io([], [out])
    model = _root(b.build())
    buf = model.Buffers(model.Subgraphs(0).Tensors(t).Buffer())
    start = buf._tab.Vector(buf._tab.Offset(4))
    assert start % 16 == 0
    np.testing.assert_array_equal(np.frombuffer(buf.DataAsNumpy().tobytes(), dtype), values)


def test_op_codes_above_127_keep_the_placeholder_in_the_deprecated_field() -> None:
    b = ModelBuilder()
    x = b.add_tensor([4], "float32")
    y = b.add_tensor([4], "float32")
    b.add_operator("GELU", [x], [y], {"approximate": True})
    b.add_operator("ADD", [y, y], [x])
    b.set_io([x], [x])
    root = _root(b.build())
    codes = [root.OperatorCodes(i) for i in range(root.OperatorCodesLength())]
    assert [(c.BuiltinCode(), c.DeprecatedBuiltinCode()) for c in codes] == [(150, 127), (0, 0)]
    assert [c.Version() for c in codes] == [1, 1]


def test_variable_tensors_and_intermediates_are_written() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "int8", scale=1.0)
    state = b.add_tensor([1, 8], "int16", scale=0.1, is_variable=True, name="state")
    inter = b.add_tensor([1, 4], "int16", scale=0.2)
    y = b.add_tensor([1, 4], "int8", scale=1.0)
    b.add_operator("ADD", [x, x], [y], {"fused_activation_function": "NONE"}, intermediates=[inter])
    b.set_io([x], [y])
    sg = _root(b.build()).Subgraphs(0)
    assert sg.Tensors(state).IsVariable() and not sg.Tensors(x).IsVariable()
    assert sg.Tensors(state).Name() == b"state"
    assert sg.Operators(0).IntermediatesAsNumpy().tolist() == [inter]


def test_vector_options_are_written() -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 6], "int8", scale=1.0)
    y = b.add_tensor([2, 3], "int8", scale=1.0)
    b.add_operator("RESHAPE", [x], [y], {"new_shape": [2, 3]})
    b.set_io([x], [y])
    model = b.build()
    op = _root(model).Subgraphs(0).Operators(0)
    options = schema_fb.ReshapeOptions()
    options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    assert options.NewShapeAsNumpy().tolist() == [2, 3]
    interpreter = runtime.Interpreter.from_bytes(model)
    interpreter.set_input(np.arange(6, dtype=np.int8).reshape(1, 6), 0)
    interpreter.invoke()
    np.testing.assert_array_equal(interpreter.get_output(0), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b, t: b.add_operator("CONV_9D", [t], [t]), "unknown builtin op"),
        (lambda b, t: b.add_operator("CONV_2D", [t], [t], {"stride": 2}), "no field 'stride'"),
        (lambda b, t: b.add_operator("CONV_2D", [t], [t], {"padding": "FULL"}), "not a Padding"),
        (lambda b, t: b.add_operator("TANH", [t], [t], {"beta": 1.0}), "takes no options"),
        (lambda b, t: b.add_operator("ADD", [t, 9], [t]), "tensor index 9"),
        (lambda b, t: b.add_tensor([2, 2], "int8", data=[1, 2, 3]), "3 values"),
        (lambda b, t: b.add_tensor([2], "int8", data=[0.5, 1.5]), "float data"),
        (lambda b, t: b.add_tensor([2], "int4"), "unsupported tensor dtype"),
        (
            lambda b, t: b.add_tensor([2, 3], "int8", scale=[1.0, 2.0], quantized_dimension=1),
            "2 scales",
        ),
        (lambda b, t: b.add_tensor([2], "int8", scale=[1.0, 2.0], zero_point=[0]), "zero points"),
        (lambda b, t: b.build(), "no outputs"),
    ],
)
def test_mistakes_raise_model_error_naming_the_problem(call, message: str) -> None:
    b = ModelBuilder()
    t = b.add_tensor([2], "int8")
    with pytest.raises(ModelError, match=message):
        call(b, t)
