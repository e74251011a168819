"""read_model: round trip with our writer, agreement with tflite-micro's generated schema on the
real models, and only ModelError (never another exception) on truncated or corrupted files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths
from microdeploy.errors import ModelError
from microdeploy.model import schema
from microdeploy.model.reader import Model, read_model
from microdeploy.model.writer import ModelBuilder


def _shared_models() -> list[Path]:
    d = paths.shared_models_dir()
    if not d.is_dir():
        pytest.skip(f"reference models folder {d} is absent")
    return sorted(d.glob("*/*.tflite"))


def _rich_model() -> tuple[bytes, dict]:
    rng = np.random.default_rng(5)
    b = ModelBuilder(description="round trip")
    spec = {}
    x = b.add_tensor([1, 8, 8, 3], "int8", scale=0.5, zero_point=-3, name="input")
    w_data = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    w = b.add_tensor(
        [4, 3, 3, 3], "int8", data=w_data, scale=[0.1, 0.2, 0.3, 0.4], zero_point=[0] * 4
    )
    bias_data = rng.integers(-1000, 1000, 4).astype(np.int32)
    bias = b.add_tensor([4], "int32", data=bias_data, scale=[0.05, 0.1, 0.15, 0.2])
    conv = b.add_tensor([1, 4, 4, 4], "int8", scale=0.25, zero_point=1, name="conv")
    flat = b.add_tensor([1, 64], "int8", scale=0.25, zero_point=1)
    state = b.add_tensor([1, 16], "int16", scale=0.01, is_variable=True, name="state")
    inter = b.add_tensor([1, 16], "int16", scale=0.02)
    f_data = rng.standard_normal(5).astype(np.float32)
    fconst = b.add_tensor([5], "float32", data=f_data, name="floats")
    out = b.add_tensor([1, 64], "int8", scale=1 / 256, zero_point=-128, name="probs")
    conv_opts = {
        "padding": "SAME",
        "stride_w": 2,
        "stride_h": 2,
        "fused_activation_function": "RELU6",
    }
    b.add_operator("CONV_2D", [x, w, bias], [conv], conv_opts)
    b.add_operator("RESHAPE", [conv], [flat], {"new_shape": [1, 64]})
    b.add_operator("SOFTMAX", [flat, -1], [out], {"beta": 0.5}, intermediates=[inter, state])
    b.set_io([x], [out])
    spec.update(
        x=x,
        w=w,
        bias=bias,
        conv=conv,
        out=out,
        state=state,
        inter=inter,
        fconst=fconst,
        w_data=w_data,
        bias_data=bias_data,
        f_data=f_data,
        conv_opts=conv_opts,
    )
    return b.build(), spec


def test_every_written_field_reads_back() -> None:
    data, s = _rich_model()
    m = read_model(data)
    assert isinstance(m, Model) and m.version == 3 and m.description == "round trip"
    assert m.size == len(data)
    assert m.buffer_sizes == (0, s["w_data"].nbytes, s["bias_data"].nbytes, s["f_data"].nbytes)
    assert [t.index for t in m.inputs] == [s["x"]] and [t.index for t in m.outputs] == [s["out"]]

    x = m.tensors[s["x"]]
    assert (x.name, x.shape, x.type, x.buffer, x.is_constant) == (
        "input",
        (1, 8, 8, 3),
        schema.TensorType.INT8,
        0,
        False,
    )
    assert x.quantization.scale == (0.5,) and x.quantization.zero_point == (-3,)
    w = m.tensors[s["w"]]
    assert w.is_constant and w.quantization.per_channel
    np.testing.assert_allclose(w.quantization.scale, [0.1, 0.2, 0.3, 0.4], rtol=1e-7)
    assert w.quantization.quantized_dimension == 0
    np.testing.assert_array_equal(m.tensor_data(w), s["w_data"])
    np.testing.assert_array_equal(m.tensor_data(m.tensors[s["bias"]]), s["bias_data"])
    np.testing.assert_array_equal(m.tensor_data(m.tensors[s["fconst"]]), s["f_data"])
    state = m.tensors[s["state"]]
    assert state.is_variable and not state.is_constant and state.type == schema.TensorType.INT16
    with pytest.raises(ModelError, match="no constant data"):
        m.tensor_data(x)

    conv, reshape, softmax = m.operators
    assert [op.name for op in m.operators] == ["CONV_2D", "RESHAPE", "SOFTMAX"]
    assert conv.inputs == (s["x"], s["w"], s["bias"]) and conv.outputs == (s["conv"],)
    assert conv.options_type == "Conv2DOptions"
    assert {k: conv.options[k] for k in s["conv_opts"]} == s["conv_opts"]
    assert conv.options["dilation_w_factor"] == 1  # schema default filled in
    assert reshape.options["new_shape"] == (1, 64)
    assert softmax.options["beta"] == 0.5
    assert softmax.inputs == (s["conv"] + 1, -1)
    assert softmax.intermediates == (s["inter"], s["state"])


def test_reader_agrees_with_generated_schema_on_real_models() -> None:
    schema_fb = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    for path in _shared_models():
        data = path.read_bytes()
        ours = read_model(path)
        root = schema_fb.Model.GetRootAsModel(data, 0)
        assert root.SubgraphsLength() == len(ours.subgraphs)
        assert root.BuffersLength() == len(ours.buffer_sizes)
        sg = root.Subgraphs(0)
        assert sg.InputsAsNumpy().tolist() == list(ours.main.inputs)
        assert sg.OutputsAsNumpy().tolist() == list(ours.main.outputs)
        assert sg.TensorsLength() == len(ours.tensors)
        for i, t in enumerate(ours.tensors):
            g = sg.Tensors(i)
            shape = g.ShapeAsNumpy().tolist() if g.ShapeLength() else []
            assert (tuple(shape), g.Type(), g.Buffer()) == (t.shape, int(t.type), t.buffer)
            assert root.Buffers(t.buffer).DataLength() == t.buffer_size
            q = g.Quantization()
            scales = q.ScaleAsNumpy().tolist() if q is not None and q.ScaleLength() else []
            assert tuple(scales) == (t.quantization.scale if t.quantization else ())
        assert sg.OperatorsLength() == len(ours.operators)
        for i, op in enumerate(ours.operators):
            g = sg.Operators(i)
            code = root.OperatorCodes(g.OpcodeIndex())
            assert max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == op.builtin_code
            assert g.InputsAsNumpy().tolist() == list(op.inputs), (path.name, i)
            assert g.OutputsAsNumpy().tolist() == list(op.outputs)
            assert g.BuiltinOptionsType() == (
                schema.builtin_options_type(op.options_type) if op.options_type else 0
            )


def _outcome(data: bytes) -> str:
    try:
        read_model(data)
    except ModelError as exc:
        assert "\n" not in exc.message
        return "error"
    return "model"


def test_truncation_at_many_offsets_gives_model_error() -> None:
    rnd = random.Random(1234)
    for path in _shared_models():
        data = path.read_bytes()
        offsets = sorted({*range(0, 64), *(rnd.randrange(len(data)) for _ in range(150))})
        for cut in offsets:
            # A cut file almost always loses referenced data; either outcome is acceptable,
            # any other exception fails the test.
            _outcome(data[:cut])
        assert _outcome(data[: len(data) // 2]) == "error"


def test_random_byte_flips_give_a_model_or_a_model_error() -> None:
    rnd = random.Random(99)
    outcomes = {"model": 0, "error": 0}
    for path in _shared_models():
        original = path.read_bytes()
        # The flatbuffer's tables sit after the big weight buffers in converter output; flip
        # everywhere, but mostly in the structure (first and last 4 KB).
        regions = [(0, min(4096, len(original))), (max(0, len(original) - 4096), len(original))]
        for trial in range(300):
            data = bytearray(original)
            for _ in range(rnd.choice([1, 1, 2, 8])):
                lo, hi = regions[trial % 2] if trial % 3 else (0, len(data))
                data[rnd.randrange(lo, hi)] = rnd.randrange(256)
            outcomes[_outcome(bytes(data))] += 1
    assert outcomes["error"] > 0 and outcomes["model"] > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "only 0 bytes"),
        (b"\x00" * 64, "file identifier"),
        (b"PK\x03\x04" + b"\x00" * 100, "file identifier"),
        (b"\x08\x00\x00\x00TFL3" + b"\xff" * 8, "corrupt model"),
        (b"\x08\x00\x00\x00TFL3" + b"\x00", "runs past the end"),
    ],
)
def test_non_models_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        read_model(data)


def test_wrong_schema_version_and_bad_references_are_named() -> None:
    b = ModelBuilder()
    x = b.add_tensor([2], "int8", scale=1.0)
    y = b.add_tensor([2], "int8", scale=1.0)
    b.add_operator("ADD", [x, x], [y])
    b.set_io([x], [y])
    data = bytearray(b.build())
    m = read_model(bytes(data))
    assert m.operators[0].name == "ADD"
    # Find the version field (uint32 3) via the root table and break it.
    root = int.from_bytes(data[0:4], "little")
    vtable = root - int.from_bytes(data[root : root + 4], "little", signed=True)
    version_pos = root + int.from_bytes(data[vtable + 4 : vtable + 6], "little")
    data[version_pos] = 2
    with pytest.raises(ModelError, match="schema version 2"):
        read_model(bytes(data))


def test_paths_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        read_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        read_model(tmp_path)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"hello world, not a model")
    with pytest.raises(ModelError, match=r"bad\.tflite: not a TFLite model"):
        read_model(bad)
