"""`microdeploy bench`: the figures it reports are the runtime's and TFLM's own (never a timing
threshold: latencies only need to be positive numbers), and the emulated board's instruction
count repeats exactly from one run to the next."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cli_helpers import run_cli

from microdeploy import host_runtime, paths, reference
from microdeploy.bench import firmware, models
from microdeploy.model.analysis import op_macs
from microdeploy.model.reader import read_model

HELLO = paths.examples_dir() / "hello_world" / "model.tflite"

needs_tflm = pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")


def _needs_qemu() -> None:
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _check_host_keys(result: dict) -> None:
    model = HELLO.read_bytes()
    assert result["model"] == "examples/hello_world"
    assert result["arena_bytes"] == host_runtime.plan_model(model).arena_bytes
    tflm = reference.tflm_arena(model)
    assert (result["tflm_arena_bytes"], result["tflm_arena_head"], result["tflm_arena_tail"]) == (
        tflm.total,
        tflm.head,
        tflm.tail,
    )
    assert result["arena_ratio"] == pytest.approx(result["arena_bytes"] / tflm.total)
    for key in ("latency_us", "tflm_latency_us", "latency_ratio"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["latency_ratio"] == pytest.approx(
        result["latency_us"] / result["tflm_latency_us"]
    )
    parsed = read_model(model)
    assert result["macs"] == sum(op_macs(parsed, op) for op in parsed.operators)
    assert result["bit_exact"] is True
    size = result["x86_64_code_size"]  # the model's op set (tests/test_bench_codesize.py)
    assert size["ops"] == sorted({op.name for op in parsed.operators})
    assert size["ratio"] == pytest.approx(size["ours"]["bytes"] / size["tflm"]["bytes"])


@needs_tflm
def test_bench_json_on_the_host(tmp_path) -> None:
    out = tmp_path / "results.json"
    cli = run_cli("bench", str(HELLO), "--json", "--batches", "1", "--out", str(out))
    assert cli.code == 0, cli.stderr
    result = json.loads(cli.stdout)
    _check_host_keys(result)
    assert "instructions" not in result  # only an emulated board counts them
    saved = json.loads(out.read_text())
    assert saved["results"] == [result]
    assert saved["host"]["tflite_micro"]


@needs_tflm
@pytest.mark.qemu
def test_bench_instructions_on_the_emulated_board_repeat_exactly() -> None:
    _needs_qemu()
    cli = run_cli("bench", "hello_world", "--board", "mps2-an386", "--json", "--batches", "1")
    assert cli.code == 0, cli.stderr
    result = json.loads(cli.stdout)
    _check_host_keys(result)
    assert isinstance(result["instructions"], int) and result["instructions"] > 0
    assert result["macs_per_instruction"] == pytest.approx(result["macs"] / result["instructions"])
    assert result["device_bit_exact"] is True
    # the same firmware with the reference kernels only: exact too, and counted the same way
    assert result["reference_device_bit_exact"] is True
    reference_count = result["reference_instructions"]
    assert isinstance(reference_count, int) and reference_count > 0
    assert result["instructions_vs_reference"] == pytest.approx(
        result["instructions"] / result["reference_instructions"]
    )
    assert all(isinstance(p["reference_instructions"], int) for p in result["op_profile"])
    profile = result["op_profile"]
    assert [p["name"] for p in profile] == ["FULLY_CONNECTED"] * 3
    inside = sum(p["instructions"] for p in profile)
    # The op windows are disjoint intervals of one clock within the profiled inference, so they
    # sum to at most its count. Against the unprofiled count they may sum to more: each window
    # holds part of the profiler's clock reads, which can exceed hello_world's few dozen dispatch
    # instructions; the tick-based overhead then reads 0 (clamped).
    assert 0 < inside <= result["profiled_instructions"]
    assert result["interpreter_overhead"] == pytest.approx(
        max(0.0, 1 - inside / result["instructions"])
    )
    # The instruction count is an unprofiled inference's: the profiled one pays for its clock
    # reads (two per op: for three ops, well over one tick of 40 instructions).
    profiled = result["profiled_instructions"]
    assert profiled > result["instructions"]
    assert result["profiled_interpreter_overhead"] == pytest.approx(1 - inside / profiled)
    # The same inference counted instruction by instruction (tests/test_insn_profile.py).
    exact = result["exact_invoke"]
    assert 0 < exact["dispatch_instructions"] < exact["instructions"]
    assert exact["interpreter_overhead"] == pytest.approx(
        exact["dispatch_instructions"] / exact["instructions"]
    )
    assert abs(exact["instructions"] - result["instructions"]) <= 80  # two SysTick ticks
    fw = result["firmware"]
    parts = fw["model_bytes"] + fw["runtime_bytes"] + fw["app_bytes"] + fw["other_bytes"]
    assert parts == fw["flash_bytes"]  # the map's parts account for every flash byte
    assert sum(fw["runtime_objects"].values()) == fw["runtime_bytes"]
    assert "md/kernels/fully_connected.o" in fw["runtime_objects"]
    assert fw["model_bytes"] >= len(HELLO.read_bytes())
    assert fw["flash_without_model"] == fw["flash_bytes"] - fw["model_bytes"]

    # A second, separate run (new QEMU) counts the very same instructions in total; per op
    # within one tick (an op's start is not aligned to a tick edge as the inference's is).
    model = read_model(HELLO.read_bytes())
    again = firmware.measure_on_board(HELLO, "mps2-an386", models.bench_inputs(model))
    assert again.instructions == result["instructions"]
    for op, first in zip(again.ops, profile, strict=True):
        assert abs(op.instructions - first["instructions"]) <= again.instructions_per_tick
    expected = reference.tflm_run(HELLO.read_bytes(), models.bench_inputs(model))
    assert all(np.array_equal(a, b) for a, b in zip(again.outputs, expected, strict=True))


def test_bench_refuses_bad_requests() -> None:
    cli = run_cli("bench")
    assert cli.code == 1 and "give a MODEL or --all" in cli.stderr
    cli = run_cli("bench", "no_such_model")
    assert cli.code == 1 and "no model file or known model" in cli.stderr
    assert "Traceback" not in cli.stderr
    cli = run_cli("bench", str(HELLO), "--board", "no-such-board")
    assert cli.code == 1 and "unknown board" in cli.stderr


def test_native_board_does_not_count_instructions() -> None:
    from microdeploy.errors import BoardError

    with pytest.raises(BoardError, match="does not count instructions"):
        firmware.counting_board("native")


def test_model_names_resolve() -> None:
    by_name = models.resolve("examples/hello_world")
    assert by_name == models.resolve("hello_world") == models.resolve(str(HELLO))
    assert by_name.path == HELLO
    names = [m.name for m in models.all_models()]
    assert "examples/hello_world" in names
    assert not any("audio_preprocessor" in n for n in names)


def test_bench_inputs_are_seeded_and_typed() -> None:
    model = read_model(HELLO.read_bytes())
    first, second = models.bench_inputs(model), models.bench_inputs(model)
    assert [a.dtype for a in first] == [np.dtype(t.dtype) for t in model.inputs]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_map_parts_follow_objects_and_clamp_merged_sections(tmp_path) -> None:
    from microdeploy.bench.mapfile import flash_report

    build = ".pio/build/b"
    lines = [
        "Discarded input sections",
        f" .text          0x00000000       0x40 {build}/lib1/md_runtime/md/planner.o",
        "Memory Configuration",
        ".text           0x00000100      0x100",
        " *(.text*)",
        f" .text          0x00000100       0x20 {build}/lib1/md_runtime/md/kernels/conv_2d.o",
        " .text._ZN2md3app5ServeEv",
        f"                0x00000120       0x10 {build}/lib1/md_runtime/md/app/service.o",
        f" .rodata.str1.4 0x00000130       0x30 {build}/lib1/md_runtime/md/interpreter.o",
        f" .rodata        0x00000130       0x90 {build}/src/model_data.cpp.o",
        " *fill*         0x000001c0        0x8 ",
        f" .text          0x000001c8       0x30 {build}/src/main.cpp.o",
        "                0x000001c8                main",
        ".data           0x20000000        0x8 load address 0x00000200",
        " .data          0x20000000        0x8 /usr/lib/arm-none-eabi/lib/libc_nano.a(lib_a-x.o)",
        ".bss            0x20000008      0x400",
        f" .bss           0x20000008      0x400 {build}/src/main.cpp.o",
    ]
    path = tmp_path / "firmware.map"
    path.write_text("\n".join(lines) + "\n")
    report = flash_report(path)
    parts = report.parts
    # the merged .rodata.str1.4 listed at the next section's address counts for nothing;
    # the 8 bytes the map leaves unlisted at the end of .text go to "other"
    assert parts == {"model": 0x90, "runtime": 0x20, "app": 0x10 + 0x30, "other": 8 + 8 + 8}
    assert sum(parts.values()) == 0x100 + 0x8
    assert report.runtime_objects == {"md/kernels/conv_2d.o": 0x20}


@needs_tflm
def test_bench_all_reports_a_failing_model_and_goes_on(tmp_path) -> None:
    from microdeploy.bench.runner import bench_all

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    rows = bench_all(
        batches=1, models=[models.BenchModel("junk", junk), models.BenchModel("hello", HELLO)]
    )
    assert rows[0]["model"] == "junk" and "not a TFLite model" in rows[0]["error"]
    assert rows[1]["model"] == "hello" and rows[1]["bit_exact"] is True
