"""Trains, quantizes and writes the hello_world example: sine regression, numpy only.

The classic TFLM first model: y = sin(x) for x in [0, 2*pi], learned by a tiny MLP
1 -> 16 (RELU) -> 16 (RELU) -> 1, all FULLY_CONNECTED.
- Training: full-batch gradient descent (Adam) in float64 on noisy samples, fixed seed.
- Cross-layer equalization of the hidden units' weight ranges (same function, better int8).
- Post-training quantization: int8 activations with scales and zero points from the ranges
  the float network reaches on representative inputs; int8 symmetric per-tensor weights;
  int32 biases at input_scale x weight_scale (what TFLM's FULLY_CONNECTED expects).
- Export with microdeploy's own ModelBuilder, plus input.bin: x = pi/2 as the model's int8.
Deterministic and fast (a second or two); re-run after a writer change:
    python example_projects/hello_world/make_model.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microdeploy.model.writer import ModelBuilder

HERE = Path(__file__).resolve().parent
X_MAX = 2 * np.pi
HIDDEN = (16, 16)
EXAMPLE_X = np.pi / 2


@dataclass
class Mlp:
    weights: list[np.ndarray]  # [in, out] per layer
    biases: list[np.ndarray]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer (input first); RELU on all but the last."""
        acts = [x]
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = acts[-1] @ w + b
            acts.append(z if i == len(self.weights) - 1 else np.maximum(z, 0.0))
        return acts


def training_data(rng: np.random.Generator, count: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.0, X_MAX, (count, 1))
    return x, np.sin(x) + rng.normal(0.0, 0.05, x.shape)


def train(seed: int = 1337, steps: int = 3000, lr: float = 0.003) -> Mlp:
    rng = np.random.default_rng(seed)
    sizes = (1, *HIDDEN, 1)
    net = Mlp(
        [rng.normal(0, np.sqrt(2.0 / n), (n, m)) for n, m in zip(sizes, sizes[1:], strict=False)],
        [np.full(m, 0.1) for m in sizes[1:]],
    )
    x, y = training_data(rng)
    params = net.weights + net.biases
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    beta1, beta2 = 0.9, 0.999
    for step in range(1, steps + 1):
        acts = net.forward(x)
        grad = 2.0 * (acts[-1] - y) / len(x)  # d(mean squared error)/d(output)
        grads_w, grads_b = [], []
        for i in reversed(range(len(net.weights))):
            grads_w.insert(0, acts[i].T @ grad)
            grads_b.insert(0, grad.sum(axis=0))
            if i:
                grad = (grad @ net.weights[i].T) * (acts[i] > 0)
        for p, g, m, v in zip(params, grads_w + grads_b, first, second, strict=True):
            m[:] = beta1 * m + (1 - beta1) * g
            v[:] = beta2 * v + (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    return net


def _affine(lo: float, hi: float) -> tuple[float, int]:
    """int8 scale and zero point covering [lo, hi] (always including 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(round(-128 - lo / scale), -128, 127))


def equalize(net: Mlp, rounds: int = 3) -> Mlp:
    """Cross-layer equalization: RELU(s*z) = s*RELU(z) for s > 0, so each hidden unit's
    incoming weights and bias can be scaled by s and its outgoing weights by 1/s without
    changing the function. Balancing the ranges this way lets per-tensor int8 weights keep
    precision (one large weight otherwise coarsens the whole layer's scale)."""
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    for _ in range(rounds):
        for i in range(len(weights) - 1):
            incoming = np.abs(weights[i]).max(axis=0)
            outgoing = np.abs(weights[i + 1]).max(axis=1)
            s = np.sqrt(outgoing / np.maximum(incoming, 1e-12))
            weights[i], biases[i] = weights[i] * s, biases[i] * s
            weights[i + 1] = weights[i + 1] / s[:, None]
    return Mlp(weights, biases)


def quantize(net: Mlp) -> bytes:
    net = equalize(net)
    representative = np.linspace(0.0, X_MAX, 500).reshape(-1, 1)
    acts = net.forward(representative)
    ranges = [(0.0, X_MAX)] + [(float(a.min()), float(a.max())) for a in acts[1:]]

    b = ModelBuilder(description="microdeploy hello_world example (numpy-trained sine)")
    in_scale, in_zero = _affine(*ranges[0])
    x = b.add_tensor([1, 1], "int8", scale=in_scale, zero_point=in_zero, name="x")
    first = x
    last = len(net.weights) - 1
    for i, (w, bias) in enumerate(zip(net.weights, net.biases, strict=True)):
        w_scale = max(float(np.abs(w).max()) / 127.0, 1e-8)
        w_q = np.clip(np.round(w.T / w_scale), -127, 127).astype(np.int8)  # TFLite: [out, in]
        bias_scale = in_scale * w_scale
        w_t = b.add_tensor(
            list(w_q.shape), "int8", data=w_q, scale=w_scale, zero_point=0, name=f"dense{i}/w"
        )
        b_t = b.add_tensor(
            [w_q.shape[0]],
            "int32",
            data=np.round(bias / bias_scale).astype(np.int32),
            scale=bias_scale,
            zero_point=0,
            name=f"dense{i}/b",
        )
        out_scale, out_zero = _affine(*ranges[i + 1])
        y = b.add_tensor(
            [1, w_q.shape[0]], "int8", scale=out_scale, zero_point=out_zero, name=f"dense{i}/out"
        )
        activation = "NONE" if i == last else "RELU"
        b.add_operator(
            "FULLY_CONNECTED", [x, w_t, b_t], [y], {"fused_activation_function": activation}
        )
        x, in_scale = y, out_scale
    b.set_io([first], [x])
    return b.build()


def quantize_input(value: float, model_input_scale: float, zero_point: int) -> bytes:
    q = int(np.clip(round(value / model_input_scale) + zero_point, -128, 127))
    return np.array([q], np.int8).tobytes()


def main() -> None:
    net = train()
    model = quantize(net)
    (HERE / "model.tflite").write_bytes(model)
    in_scale, in_zero = _affine(0.0, X_MAX)
    (HERE / "input.bin").write_bytes(quantize_input(EXAMPLE_X, in_scale, in_zero))
    test_x = np.linspace(0, X_MAX, 200).reshape(-1, 1)
    error = float(np.abs(net.forward(test_x)[-1] - np.sin(test_x)).max())
    print(f"wrote {HERE / 'model.tflite'} and input.bin (float model max |error| {error:.3f})")


if __name__ == "__main__":
    main()
