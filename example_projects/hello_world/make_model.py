"""Writes model.tflite and input.bin of the hello_world example with microdeploy's own writer.

A tiny int8 classifier: 16 inputs -> FULLY_CONNECTED(8, RELU) -> FULLY_CONNECTED(4) -> 4 scores.
Weights come from a fixed seed, so the files are reproducible; re-run after a writer change:
    python example_projects/hello_world/make_model.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microdeploy.model.writer import ModelBuilder

HERE = Path(__file__).resolve().parent


def build_model() -> bytes:
    rng = np.random.default_rng(20261125)
    b = ModelBuilder(description="microdeploy hello_world example")
    x = b.add_tensor([1, 16], "int8", scale=0.05, zero_point=-3, name="input")
    w1 = b.add_tensor(
        [8, 16],
        "int8",
        data=rng.integers(-127, 128, (8, 16)),
        scale=0.01,
        zero_point=0,
        name="dense1/weights",
    )
    b1 = b.add_tensor(
        [8],
        "int32",
        data=rng.integers(-200, 200, 8),
        scale=0.05 * 0.01,
        zero_point=0,
        name="dense1/bias",
    )
    h = b.add_tensor([1, 8], "int8", scale=0.04, zero_point=-128, name="dense1/out")
    w2 = b.add_tensor(
        [4, 8],
        "int8",
        data=rng.integers(-127, 128, (4, 8)),
        scale=0.02,
        zero_point=0,
        name="dense2/weights",
    )
    b2 = b.add_tensor(
        [4],
        "int32",
        data=rng.integers(-100, 100, 4),
        scale=0.04 * 0.02,
        zero_point=0,
        name="dense2/bias",
    )
    y = b.add_tensor([1, 4], "int8", scale=0.1, zero_point=2, name="scores")
    b.add_operator("FULLY_CONNECTED", [x, w1, b1], [h], {"fused_activation_function": "RELU"})
    b.add_operator("FULLY_CONNECTED", [h, w2, b2], [y], {"fused_activation_function": "NONE"})
    b.set_io([x], [y])
    return b.build()


def build_input() -> bytes:
    rng = np.random.default_rng(7)
    return rng.integers(-128, 128, 16).astype(np.int8).tobytes()


def main() -> None:
    (HERE / "model.tflite").write_bytes(build_model())
    (HERE / "input.bin").write_bytes(build_input())
    print(f"wrote {HERE / 'model.tflite'} and {HERE / 'input.bin'}")


if __name__ == "__main__":
    main()
