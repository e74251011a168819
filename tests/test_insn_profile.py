"""microdeploy/bench/insn_profile.py: exact per-function instruction counts of one
Interpreter::Invoke() on the emulated Cortex-M4 (QEMU plugin), checked against the bench's
SysTick count of the same inference, and the profiler's cost seen only when it is attached."""

from __future__ import annotations

import re
import shutil

import pytest

from microdeploy import paths
from microdeploy.bench import firmware, insn_profile, models
from microdeploy.model.reader import read_model

HELLO = paths.examples_dir() / "hello_world" / "model.tflite"
PROFILER_FUNCTIONS = ("md::port::Ticks()", "md::Profiler::BeginOp(long, char const*)")


@pytest.mark.qemu
def test_exact_counts_agree_with_systick_and_show_the_profiler_only_when_attached() -> None:
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc", "cc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    inputs = models.bench_inputs(read_model(HELLO.read_bytes()))
    plain = insn_profile.profile_invoke(HELLO, "mps2-an386", inputs)
    profiled = insn_profile.profile_invoke(HELLO, "mps2-an386", inputs, profile=True)
    assert plain.invokes == profiled.invokes == 1
    for name in PROFILER_FUNCTIONS:
        assert name not in plain.by_function
        assert profiled.by_function.get(name, 0) > 0
    assert "md::Interpreter::Invoke()" in plain.by_function
    assert 0 < plain.dispatch_instructions < profiled.dispatch_instructions
    assert plain.accessor_instructions > 0  # the kernels read their tensors through OpContext
    assert plain.instructions < profiled.instructions
    # Outside the interpreter's dispatch, the very same instructions run either way.
    dispatch = [re.compile(p) for p in insn_profile.DISPATCH]
    for name, count in plain.by_function.items():
        if not any(r.fullmatch(name) for r in dispatch):
            assert profiled.by_function.get(name) == count, name

    # SysTick (40 instructions a tick) around the same Invoke() call, in the same firmware: it
    # also holds part of its two clock reads, so the two agree to within two ticks.
    measured = firmware.measure_on_board(HELLO, "mps2-an386", inputs)
    assert abs(plain.instructions - measured.instructions) <= 2 * measured.instructions_per_tick
