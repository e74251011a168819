"""The code-size comparison's machinery (microdeploy/bench/codesize.py): which functions it keeps
for a set of roots, on a small library compiled here whose call graph is known, and on the two
real binaries (ours and TFLM's wheel). No test puts a bound on the ratio itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from microdeploy import reference
from microdeploy.bench import codesize

_SOURCE = r"""
namespace t {
struct Registration {
  int (*prepare)(int);
  int (*invoke)(int);
};
__attribute__((noinline)) int Helper(int x) { return x * 3 + 1; }
__attribute__((noinline)) int KernelPrepare(int x) { return Helper(x) + 2; }
__attribute__((noinline)) int KernelInvoke(int x) { return x ^ 0x55; }
__attribute__((noinline)) int OtherInvoke(int x) { return x - 7; }
__attribute__((noinline)) int Unused(int x) { return x * x - 9; }
const Registration& Register_A() {
  static const Registration registration{KernelPrepare, KernelInvoke};
  return registration;
}
const Registration& Register_B() {
  static const Registration registration{OtherInvoke, OtherInvoke};
  return registration;
}
__attribute__((noinline)) int TailCalled(int x) { return x + 11; }  // Core jumps to it
struct Base {
  virtual int Run(int x) = 0;
};
struct Impl : Base {
  int Run(int x) override;
};
__attribute__((noinline)) int Impl::Run(int x) { return Helper(x) - 1; }
Impl g_impl;
Base* volatile g_base = &g_impl;
int Core(int x) { return g_base->Run(x) + TailCalled(x); }
}  // namespace t
"""


def _compiled(tmp_path: Path) -> Path:
    compiler = shutil.which("g++")
    if compiler is None or shutil.which("objdump") is None:
        pytest.skip("g++ and binutils are needed")
    source = tmp_path / "graph.cc"
    source.write_text(_SOURCE, encoding="utf-8")
    library = tmp_path / "libgraph.so"
    subprocess.run(
        [
            compiler,
            "-O2",
            "-fPIC",
            "-shared",
            "-fno-exceptions",
            "-fno-rtti",
            str(source),
            "-o",
            str(library),
        ],
        check=True,
    )
    return library


def test_keeps_what_the_roots_reach_through_calls_tables_and_vtables(tmp_path: Path) -> None:
    binary = codesize.read_binary(_compiled(tmp_path))
    size = codesize.measure(binary, [r"t::Core\(int\)"], [r"t::Register_A\(\)"])
    assert size.core_names == {
        "t::Core(int)",
        "t::Impl::Run(int)",  # through g_base -> g_impl -> Impl's vtable
        "t::Helper(int)",
        "t::TailCalled(int)",
    }
    # Helper is reached from the core too, so it counts there, not with the kernel.
    assert size.kernel_names == {"t::Register_A()", "t::KernelPrepare(int)", "t::KernelInvoke(int)"}
    by_name = {f.name: f.size for f in binary.functions.values()}
    assert size.core_bytes == sum(by_name[n] for n in size.core_names)
    assert size.kernel_bytes == sum(by_name[n] for n in size.kernel_names)
    assert size.total_bytes == size.core_bytes + size.kernel_bytes


def test_excluded_functions_are_neither_counted_nor_followed(tmp_path: Path) -> None:
    binary = codesize.read_binary(_compiled(tmp_path))
    size = codesize.measure(
        binary, [r"t::Core\(int\)"], [r"t::Register_A\(\)"], excluded=[r"t::Impl::Run\(int\)"]
    )
    assert "t::Impl::Run(int)" not in size.core_names
    assert "t::Helper(int)" in size.kernel_names  # now only the kernel reaches it


def test_a_root_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    binary = codesize.read_binary(_compiled(tmp_path))
    with pytest.raises(codesize.ToolchainError, match="Register_C"):
        codesize.measure(binary, [r"t::Core\(int\)"], [r"t::Register_C\(\)"])


def test_an_op_without_a_rule_is_named() -> None:
    with pytest.raises(codesize.ModelError, match="BATCH_MATMUL"):
        codesize.tflm_op_roots(["CONV_2D", "BATCH_MATMUL"])


@pytest.mark.skipif(not reference.available(), reason="tflite-micro not installed")
def test_person_detection_op_set_on_both_real_binaries() -> None:
    int8_only = ["-DMD_KERNELS_NO_FLOAT32", "-DMD_KERNELS_NO_INT16"]
    result = codesize.compare(codesize.PERSON_DETECTION_OPS, int8_only)
    assert result["ops"] == sorted(codesize.PERSON_DETECTION_OPS)
    for side in ("ours", "ours_portable_kernels", "ours_reference_kernels", "tflm"):
        figures = result[side]
        assert figures["core_bytes"] > 0 and figures["kernel_bytes"] > 0
        assert figures["bytes"] == figures["core_bytes"] + figures["kernel_bytes"]
    assert result["ratio"] == pytest.approx(result["ours"]["bytes"] / result["tflm"]["bytes"])
    assert result["tflm_with_compression_bytes"] > result["tflm"]["bytes"]
    # One core whatever the kernels; the optimized paths add code to the reference kernels.
    cores = {result[s]["core_bytes"] for s in ("ours", "ours_portable_kernels")}
    assert cores == {result["ours_reference_kernels"]["core_bytes"]}
    reference_kernels = result["ours_reference_kernels"]["kernel_bytes"]
    assert reference_kernels < result["ours_portable_kernels"]["kernel_bytes"]
    # The generated defines (an all-int8 model's) keep the core and remove kernel code.
    generated = result["ours_generated_defines"]
    assert generated["defines"] == int8_only
    assert generated["core_bytes"] == result["ours"]["core_bytes"]
    assert generated["kernel_bytes"] < result["ours"]["kernel_bytes"]
    assert result["generated_defines_ratio"] == pytest.approx(
        generated["bytes"] / result["tflm"]["bytes"]
    )

    # What is kept is the op set's code and the interpreter's, nothing of the Python binding
    # or of other ops.
    tflm = codesize.measure(
        codesize.read_binary(codesize.tflm_library()),
        codesize.TFLM_CORE_ROOTS,
        codesize.tflm_op_roots(codesize.PERSON_DETECTION_OPS),
        codesize.TFLM_EXCLUDED,
    )
    kept = tflm.core_names | tflm.kernel_names
    assert any("ConvEval" in n for n in tflm.kernel_names)
    assert any("SoftmaxEval" in n for n in tflm.kernel_names)
    assert any("MicroInterpreter::Invoke" in n for n in tflm.core_names)
    for foreign in ("pybind11", "InterpreterWrapper", "FullyConnected", "MaxEval", "Decompress"):
        assert not any(foreign in n for n in kept), foreign

    from microdeploy import host_runtime

    ours = codesize.measure(
        codesize.read_binary(host_runtime.build_runner(sanitize=False)),
        codesize.OURS_CORE_ROOTS,
        codesize.ours_op_roots(codesize.PERSON_DETECTION_OPS),
    )
    assert "md::Interpreter::Invoke()" in ours.core_names
    assert "md::Register_CONV_2D()" in ours.kernel_names
    for foreign in ("Register_FULLY_CONNECTED", "FcInt8", "AddAllOps"):
        assert not any(foreign in n for n in ours.core_names | ours.kernel_names), foreign
    assert "main" not in ours.core_names | ours.kernel_names
