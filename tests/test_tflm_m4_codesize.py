"""Runtime code size on the Cortex-M4, ours vs a real TFLM build (microdeploy.bench.tflm_m4).

What runs without TFLM's sources: the measuring rule on a synthetic linker map, the grouping of
objects, the flags staying those of our md-cortexm platform, and the rule on our own
person_detect firmware (its parts add up to the linked flash). The TFLM build itself needs a
TFLM source tree (none is installable here; benchmarks/README.md says how the measured one was
made): set MICRODEPLOY_TFLM_SRC to it, or that test skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from microdeploy import paths, reference
from microdeploy.bench import tflm_m4, tflm_m4_app, tflm_m4_sizes
from microdeploy.bench.mapfile import flash_objects
from microdeploy.boards import get_board
from microdeploy.errors import BuildError

BUILDER = paths.repo_root() / "microdeploy/pio/platforms/md-cortexm/builder/main.py"


def _map(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "firmware.map"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_flags_are_those_of_our_platform() -> None:
    text = BUILDER.read_text()
    for flag in (*tflm_m4.CC_FLAGS, *tflm_m4.C_FLAGS, *tflm_m4.CXX_FLAGS, *tflm_m4.LINK_FLAGS):
        assert f'"{flag}"' in text, flag
    board = get_board(tflm_m4.BOARD)
    assert tflm_m4.MACHINE_FLAGS == (
        f"-mcpu={board.core}",
        "-mthumb",
        f"-mfpu={board.fpu}",
        "-mfloat-abi=hard",
    )
    assert f'"build.md_stack_bytes", {tflm_m4.STACK_BYTES})' in text


def test_rule_on_our_map(tmp_path: Path) -> None:
    build = ".pio/build/b"
    rt = f"{build}/lib1/md_runtime/md"
    path = _map(
        tmp_path,
        [
            ".isr_vector     0x00000000       0x10",
            f" .isr_vector    0x00000000       0x10 {build}/md_startup/startup_cortexm.o",
            ".text           0x00000010      0x100",
            f" .text          0x00000010       0x20 {rt}/kernels/conv_2d.o",
            f" .text          0x00000030       0x10 {rt}/interpreter.o",
            f" .text          0x00000040       0x08 {rt}/ports/mps2/port.o",
            f" .text          0x00000048       0x18 {rt}/app/service.o",
            f" .rodata.str1.4 0x00000060       0x30 {rt}/types.o",
            f" .rodata        0x00000060       0x80 {build}/src/model_data.cpp.o",
            " *fill*         0x000000e0        0x4 ",
            f" .text          0x000000e4       0x20 {build}/src/main.cpp.o",
            " .text          0x00000104        0xc /x/libc_nano.a(lib_a-memcpy.o)",
            ".data           0x20000000        0x8 load address 0x00000110",
            f" .data          0x20000000        0x8 {rt}/kernels/softmax.o",
        ],
    )
    objects = flash_objects(path)
    assert sum(objects.values()) == 0x10 + 0x100 + 0x8
    size = tflm_m4_sizes.ours_size(path)
    # types.o's merged strings, listed at the model's address, count for nothing (clamped)
    assert size.runtime_objects == {
        "md/kernels/conv_2d.o": 0x20,
        "md/interpreter.o": 0x10,
        "md/kernels/softmax.o": 0x8,
    }
    assert (size.runtime_bytes, size.port_bytes) == (0x38, 0x8)
    assert (size.app_bytes, size.model_bytes) == (0x18 + 0x20, 0x80)
    assert size.other_bytes == 0x10 + 0x4 + 0xC  # start-up, fill, libc
    assert size.with_port == 0x40
    assert size.groups["CONV_2D"] == 0x20 and size.groups["SOFTMAX"] == 0x8
    assert size.groups["core"] == 0x10


def test_rule_on_a_tflm_map(tmp_path: Path) -> None:
    lib = "/b/libtflm.a(tensorflow_lite"
    path = _map(
        tmp_path,
        [
            ".text           0x00000000       0x80",
            " .text._ZN6tflite16MicroInterpreter6InvokeEv",
            f"                0x00000000       0x20 {lib}_micro_micro_interpreter.o)",
            f" .text          0x00000020       0x10 {lib}_micro_kernels_conv.o)",
            f" .text          0x00000030       0x08 {lib}_micro_kernels_conv_common.o)",
            f" .text          0x00000038       0x08 {lib}_kernels_kernel_util.o)",
            " .text          0x00000040       0x04 /b/app/debug_log.o",
            " .text          0x00000044       0x0c /b/app/main.o",
            " .rodata        0x00000050       0x20 /b/app/model_data.o",
            " .text          0x00000070       0x10 /x/libc_nano.a(lib_a-nano-vfprintf.o)",
        ],
    )
    size = tflm_m4_sizes.tflm_size(path)
    assert size.runtime_objects == {
        "tensorflow_lite_micro_micro_interpreter.o": 0x20,
        "tensorflow_lite_micro_kernels_conv.o": 0x10,
        "tensorflow_lite_micro_kernels_conv_common.o": 0x8,
        "tensorflow_lite_kernels_kernel_util.o": 0x8,
    }
    assert (size.runtime_bytes, size.port_bytes, size.app_bytes) == (0x40, 0x4, 0xC)
    assert (size.model_bytes, size.other_bytes) == (0x20, 0x10)
    assert size.groups == {
        "core": 0x20,
        "kernel helpers": 0x8,
        "CONV_2D": 0x18,
        "DEPTHWISE_CONV_2D": 0,
        "AVERAGE_POOL_2D": 0,
        "RESHAPE": 0,
        "SOFTMAX": 0,
    }


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("md/kernels/depthwise_conv_2d.o", "DEPTHWISE_CONV_2D"),
        ("md/kernels/average_pool_2d.o", "AVERAGE_POOL_2D"),
        ("md/model_view.o", "core"),
        ("tensorflow_lite_micro_kernels_depthwise_conv_common.o", "DEPTHWISE_CONV_2D"),
        ("tensorflow_lite_micro_kernels_pooling.o", "AVERAGE_POOL_2D"),
        ("tensorflow_lite_micro_kernels_reshape.o", "RESHAPE"),
        ("tensorflow_lite_micro_kernels_softmax_common.o", "SOFTMAX"),
        ("tensorflow_lite_micro_kernels_kernel_util.o", "kernel helpers"),
        ("tensorflow_lite_kernels_internal_quantization_util.o", "kernel helpers"),
        ("tensorflow_lite_core_api_flatbuffer_conversions.o", "core"),
        ("tensorflow_lite_micro_micro_allocator.o", "core"),
    ],
)
def test_groups(name: str, group: str) -> None:
    assert tflm_m4_sizes.group_of(name) == group


def test_a_tree_without_the_sources_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tensorflow/lite/micro").mkdir(parents=True)
    with pytest.raises(BuildError, match="micro_interpreter.cc|error_reporter.cc"):
        tflm_m4.check_tree(tmp_path)
    assert tflm_m4.main(["--tflm-src", str(tmp_path), "--build-dir", str(tmp_path / "b")]) == 1


def test_app_embeds_model_and_signed_inputs(tmp_path: Path) -> None:
    inputs = [np.array([-128, 0, 127], dtype=np.int8), np.array([1, -2, 3], dtype=np.int8)]
    tflm_m4_app.write_app(tmp_path, b"\x01\xff", inputs, 1024)
    data = (tmp_path / "model_data.cc").read_text()
    assert "g_model[] = {\n  1, 255\n}" in data
    assert "g_inputs[] = {-128, 0, 127, 1, -2, 3}" in data
    assert "g_input_count = 2;" in data and "g_input_bytes = 3;" in data
    assert "kTensorArenaSize = 1024;" in (tmp_path / "main.cc").read_text()
    assert (
        "void DebugLog(const char* format, va_list args)" in (tmp_path / "debug_log.cc").read_text()
    )


def _needs_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def test_rule_on_our_person_detect_firmware(shared_models: Path) -> None:
    """Our side, built for real: every flash byte of the firmware is in one part."""
    _needs_tools("arm-none-eabi-gcc", "arm-none-eabi-size")
    map_path = tflm_m4.build_ours(shared_models / tflm_m4.PERSON_DETECT, "reference")
    size = tflm_m4_sizes.ours_size(map_path)
    elf = map_path.parent / "firmware.elf"
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    flash_sections = {".isr_vector", ".text", ".ARM.exidx", ".ARM.extab", ".data"}
    flash_sections |= {".preinit_array", ".init_array", ".fini_array"}
    rows = [line.split() for line in out.splitlines()]
    flash = sum(int(row[1]) for row in rows if len(row) == 3 and row[0] in flash_sections)
    parts = size.runtime_bytes + size.port_bytes + size.app_bytes + size.model_bytes
    assert parts + size.other_bytes == flash
    model = (shared_models / tflm_m4.PERSON_DETECT).stat().st_size
    assert model <= size.model_bytes < model + 64  # the model (+ alignment), no input staged
    assert set(size.runtime_objects) >= {"md/interpreter.o", "md/kernels/conv_2d.o"}
    assert all(not name.startswith(("md/app/", "md/ports/")) for name in size.runtime_objects)
    assert sum(size.groups.values()) == size.runtime_bytes


def test_tflm_build_runs_like_tflm_python(shared_models: Path, tmp_path: Path) -> None:
    """The TFLM side: a working TFLM (same scores as TFLM's Python interpreter on QEMU)."""
    src = os.environ.get("MICRODEPLOY_TFLM_SRC")
    if not src:
        pytest.skip(
            "needs a TFLM source tree: set MICRODEPLOY_TFLM_SRC (benchmarks/README.md, "
            "'Runtime code size on the Cortex-M4')"
        )
    if not reference.available():
        pytest.skip("tflite-micro not installed")
    _needs_tools("arm-none-eabi-g++", "qemu-system-arm")
    model = (shared_models / tflm_m4.PERSON_DETECT).read_bytes()
    inputs = tflm_m4._inputs(model, [shared_models / f for f in tflm_m4.PERSON_DETECT_INPUTS])
    built = tflm_m4.build_tflm(Path(src), tmp_path, model, inputs, 136 * 1024)
    scores, _ = tflm_m4.run_qemu(built.elf)
    expected = [[int(v) for v in reference.tflm_run(model, [a])[0].ravel()] for a in inputs]
    assert scores == expected
    assert built.size.runtime_bytes > 0 and built.size.port_bytes > 0
    assert built.size.model_bytes >= len(model) + sum(a.size for a in inputs)
