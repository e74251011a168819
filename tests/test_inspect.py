"""`microdeploy inspect`: JSON and table output on real and generated models, figures that agree
with the runtime's own report, board fit, SVG plot, and one-line errors for bad input."""

from __future__ import annotations

import itertools
import json
import random
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from typer.testing import CliRunner

from microdeploy import paths
from microdeploy.cli.main import app, main
from microdeploy.errors import ModelError
from microdeploy.model import timeline_plot
from microdeploy.model.analysis import analyze, report_as_dict
from microdeploy.model.reader import read_model
from microdeploy.model.writer import ModelBuilder

runner = CliRunner()


def _inspect_json(*args: str) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _model_paths() -> list[Path]:
    d = paths.shared_models_dir()
    return sorted(d.glob("*/*.tflite")) if d.is_dir() else []


def _conv_dw_fc_model(tmp_path: Path) -> Path:
    b = ModelBuilder()
    x = b.add_tensor([1, 7, 6, 3], "int8", scale=0.5)
    w = b.add_tensor([4, 3, 2, 3], "int8", data=[1] * 72, scale=[0.1] * 4, zero_point=[0] * 4)
    c = b.add_tensor([1, 4, 3, 4], "int8", scale=0.5)
    b.add_operator("CONV_2D", [x, w, -1], [c], {"padding": "SAME", "stride_w": 2, "stride_h": 2})
    dw = b.add_tensor(
        [1, 3, 3, 8],
        "int8",
        data=[1] * 72,
        scale=[0.1] * 8,
        zero_point=[0] * 8,
        quantized_dimension=3,
    )
    d = b.add_tensor([1, 2, 1, 8], "int8", scale=0.5)
    b.add_operator(
        "DEPTHWISE_CONV_2D",
        [c, dw, -1],
        [d],
        {"padding": "VALID", "stride_w": 1, "stride_h": 1, "depth_multiplier": 2},
    )
    flat = b.add_tensor([1, 16], "int8", scale=0.5)
    b.add_operator("RESHAPE", [d], [flat], {"new_shape": [1, 16]})
    fw = b.add_tensor([5, 16], "int8", data=[1] * 80, scale=0.1)
    y = b.add_tensor([1, 5], "int8", scale=0.5)
    b.add_operator("FULLY_CONNECTED", [flat, fw, -1], [y])
    g = b.add_tensor([1, 5], "int8", scale=0.5)
    b.add_operator("GELU", [y], [g])
    b.set_io([x], [g])
    path = tmp_path / "small.tflite"
    path.write_bytes(b.build())
    return path


def _count_taps(out_shape, kernel_h, kernel_w, depth) -> int:
    """MACs by walking every output element and every kernel tap (no formula shared)."""
    count = 0
    for _ in itertools.product(*(range(d) for d in out_shape)):
        for _ in itertools.product(range(kernel_h), range(kernel_w), range(depth)):
            count += 1
    return count


def test_macs_ops_and_unsupported_op_on_a_generated_model(tmp_path: Path) -> None:
    report = _inspect_json(str(_conv_dw_fc_model(tmp_path)))
    assert report["ops"] == ["CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED", "GELU"]
    per_op = [op["macs"] for op in report["operators"]]
    expected = [
        _count_taps((1, 4, 3, 4), 3, 2, 3),  # conv: each output sums kh*kw*in_ch products
        _count_taps((1, 2, 1, 8), 3, 3, 1),  # depthwise: one input channel per output
        0,
        _count_taps((1, 5), 1, 1, 16),
        0,
    ]
    assert per_op == expected
    assert report["macs"] == sum(expected)
    assert report["weights_bytes"] == 72 + 72 + 80
    assert report["unsupported_ops"] == [{"index": 4, "name": "GELU"}]
    assert report["operators"][0]["options"]["padding"] == "SAME"
    assert report["inputs"][0]["shape"] == [1, 7, 6, 3]
    assert report["num_tensors"] == 9


@pytest.mark.parametrize("path", _model_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_json_agrees_with_the_runtime_report(path: Path) -> None:
    report = _inspect_json(str(path))
    model = read_model(path)
    assert report["ops"] == [op.name for op in model.operators]
    assert report["num_tensors"] == len(model.tensors)
    host_runtime = pytest.importorskip("microdeploy.host_runtime")
    try:
        plan = host_runtime.plan_model(path.read_bytes())
    except host_runtime.HostRunnerError as exc:
        if exc.kind == "UnsupportedOp":
            # inspect must name the very op the runtime refused.
            refused = exc.message.split(" is not supported")[0]  # "op 1 (SVDF)"
            named = [f"op {u['index']} ({u['name']})" for u in report["unsupported_ops"]]
            assert refused in named
            return
        if exc.kind == "UnsupportedType":
            pytest.skip(f"runtime cannot load this model: {exc.message}")
        raise
    assert report["unsupported_ops"] == []
    assert report["arena_source"] == "runtime"  # inspect got the kernels' scratch requests too
    assert report["arena_head"] == plan.head
    assert report["arena_bytes"] == plan.arena_bytes


def test_board_fit_and_a_board_too_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _conv_dw_fc_model(tmp_path)
    report = _inspect_json(str(model), "--board", "mps2-an386")
    assert report["fits"] is True and report["board"] == "mps2-an386"
    assert report["ram_margin"] == report["ram_budget"] - report["ram_needed"] > 0
    assert report["ram_needed"] > report["arena_bytes"]
    assert report["flash_needed"] > report["size_bytes"]

    source = (paths.board_defs_dir() / "mps2-an386.toml").read_text()
    tiny = source.replace('name = "mps2-an386"', 'name = "tiny-test"')
    tiny = tiny.replace("ram_bytes = 262144", "ram_bytes = 1024")
    assert tiny.count("tiny-test") == 1 and "ram_bytes = 1024" in tiny
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "tiny-test.toml").write_text(tiny)
    monkeypatch.setenv("MICRODEPLOY_BOARD_PATH", str(boards))
    report = _inspect_json(str(model), "--board", "tiny-test")
    assert report["fits"] is False and report["ram_margin"] < 0 < report["flash_margin"]
    table = runner.invoke(app, ["inspect", str(model), "--board", "tiny-test"])
    assert table.exit_code == 0 and "does NOT fit" in table.stdout


def test_table_output_names_ops_unsupported_and_timeline(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["inspect", str(_conv_dw_fc_model(tmp_path))], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    for text in (
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "GELU (op 4)",
        "Arena timeline",
        "largest tensors",
        "stride=2x2",
    ):
        assert text in result.stdout, text


def test_plot_writes_an_svg_box_per_planned_buffer(tmp_path: Path) -> None:
    model = _conv_dw_fc_model(tmp_path)
    svg = tmp_path / "plan.svg"
    result = runner.invoke(app, ["inspect", str(model), "--plot", str(svg)])
    assert result.exit_code == 0, result.output
    root = ET.parse(svg).getroot()
    boxes = [
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None
    ]
    report = _inspect_json(str(model))
    assert len(boxes) == len(report["plan"])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.tflite", "no such file"),
        (lambda d: _truncated(d), "runs past the end"),
        (lambda d: _text_file(d), "not a TFLite model"),
    ],
)
def test_bad_models_give_one_line_error_and_nonzero_exit(tmp_path: Path, make, message) -> None:
    result = run_cli("inspect", str(make(tmp_path)))
    assert result.code != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and message in lines[0]
    assert len(lines) <= 2  # the error and its hint


def test_plot_in_another_format_is_refused_clearly(tmp_path: Path) -> None:
    result = run_cli("inspect", str(_conv_dw_fc_model(tmp_path)), "--plot", str(tmp_path / "a.gif"))
    assert result.code != 0 and "only SVG and PNG" in result.stderr
    assert "Traceback" not in result.stderr


def _blend(color: str, alpha: float = 0.75) -> np.ndarray:
    """An RGB colour drawn with `alpha` over the white background, in [0, 1]."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return alpha * rgb + (1 - alpha) * 1.0


def test_plot_png_draws_every_planned_buffer_where_the_svg_does(tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    model = _conv_dw_fc_model(tmp_path)
    png = tmp_path / "plan.png"
    result = runner.invoke(app, ["inspect", str(model), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert (width, height) == (timeline_plot.WIDTH, timeline_plot.HEIGHT)
    pixels = image.imread(str(png))[:, :, :3]

    # The SVG's boxes, in its pixel coordinates (same canvas size and margins as the PNG).
    root = ET.parse(_svg(tmp_path, model)).getroot()
    boxes = [
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None
    ]
    report = _inspect_json(str(model))
    assert len(boxes) == len(report["plan"]) > 0
    rects = [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
        for r in boxes
    ]
    checked = 0
    for (x, y, w, h), box in zip(rects, boxes, strict=True):
        cx, cy = x + w / 2, y + h / 2
        covered = sum(1 for ox, oy, ow, oh in rects if ox < cx < ox + ow and oy < cy < oy + oh)
        if w < 8 or h < 8 or covered > 1:
            continue  # too small to sample, or another buffer drawn over it (in-place alias)
        # The PNG has the same colour at the centre of the SVG's box (antialiasing aside).
        got = pixels[int(cy), int(cx)]
        assert np.allclose(got, _blend(box.get("fill")), atol=3 / 255), box.find("{*}title").text
        checked += 1
    assert checked > 0


def _svg(tmp_path: Path, model: Path) -> Path:
    svg = tmp_path / "plan.svg"
    result = runner.invoke(app, ["inspect", str(model), "--plot", str(svg)])
    assert result.exit_code == 0, result.output
    return svg


def test_plot_png_without_matplotlib_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _conv_dw_fc_model(tmp_path)
    png = tmp_path / "plan.png"
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    assert main(["inspect", str(model), "--plot", str(png)]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "needs matplotlib" in lines[0]
    assert len(lines) == 2 and "pip install matplotlib" in lines[1]
    assert not png.exists()


def _truncated(d: Path) -> Path:
    source = _conv_dw_fc_model(d).read_bytes()
    path = d / "cut.tflite"
    path.write_bytes(source[: len(source) // 3])
    return path


def _text_file(d: Path) -> Path:
    path = d / "notes.tflite"
    path.write_text("this is not a model\n")
    return path


def test_no_runtime_estimates_without_building_anything(tmp_path: Path) -> None:
    model = tmp_path / "add.tflite"
    b = ModelBuilder()
    x = b.add_tensor([1, 40], "int8", scale=0.5)
    y = b.add_tensor([1, 40], "int8", scale=0.5)
    b.add_operator("ADD", [x, x], [y])
    b.set_io([x], [y])
    model.write_bytes(b.build())
    report = _inspect_json(str(model), "--no-runtime")
    assert report["arena_source"] == "estimate"
    # x dies at op 0 and ADD writes y over it in place (docs/architecture.md, arena planning):
    # one 48-byte buffer; the tail holds a uint16 slot per tensor (2 x 2 bytes, padded to 8) and
    # a 16-byte node for the op: 24 bytes, 32 once rounded to 16.
    assert report["arena_head"] == 48 and report["arena_tail"] == 32


def test_analysis_copes_with_every_model_the_reader_accepts() -> None:
    models = _model_paths()
    if not models:
        pytest.skip("reference models folder is absent")
    rnd = random.Random(2024)
    accepted = 0
    for path in models:
        original = path.read_bytes()
        for _ in range(60):
            data = bytearray(original)
            for _ in range(rnd.choice([1, 4])):
                # Converter output keeps its tables after the weights: flip mostly there.
                data[rnd.randrange(max(0, len(data) - 6000), len(data))] = rnd.randrange(256)
            try:
                model = read_model(bytes(data))
            except ModelError:
                continue
            json.dumps(report_as_dict(analyze(model)))
            accepted += 1
    assert accepted > 0
