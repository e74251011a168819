"""Writes the person_detection example's model.tflite, input.bin and test images.

The model is a small Visual Wake Words network of the same kind as TFLM's person_detect: a
MobileNet-v1-style int8 stack (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE, SOFTMAX),
96x96x1 int8 input, [1, 2] int8 scores (no_person, person), per-channel quantized weights.
Its shape and ops are the point, not its accuracy:
- the convolutional backbone has seeded random weights, normalised layer by layer on
  calibration images so every activation keeps a useful range (data-dependent initialisation);
- the last 1x1 convolution (the classifier) is trained with numpy gradient descent to tell
  synthetic "person" silhouettes from other shapes, so the example's own images score sensibly;
- post-training quantization: activation scales from the calibration images' ranges, weights
  per output channel, biases in int32 at input_scale x weight_scale.

Deterministic (fixed seeds); re-run after a writer change:
    python example_projects/person_detection/make_model.py
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microdeploy.model.writer import ModelBuilder

HERE = Path(__file__).resolve().parent
SIZE = 96
INPUT_SCALE, INPUT_ZERO_POINT = 2.0 / 255.0, -1  # float = (q + 1) * 2/255, as person_detect
# Class order of the output, as example.json lists it for `init`.
LABELS = tuple(json.loads((HERE / "example.json").read_text(encoding="utf-8"))["labels"])

# (kind, stride, output channels): a 0.25-width MobileNet v1, shortened at the deep end.
BACKBONE: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 8),
    ("dw", 1, 8),
    ("pw", 1, 16),
    ("dw", 2, 16),
    ("pw", 1, 32),
    ("dw", 1, 32),
    ("pw", 1, 32),
    ("dw", 2, 32),
    ("pw", 1, 64),
    ("dw", 1, 64),
    ("pw", 1, 64),
    ("dw", 2, 64),
    ("pw", 1, 128),
    ("dw", 1, 128),
    ("pw", 1, 128),
    ("dw", 2, 128),
    ("pw", 1, 128),
)


# ---- synthetic images (int8 tensors in TFLM's image convention: pixel byte == int8 value) ----


def _grid() -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


def _background(rng: np.random.Generator) -> np.ndarray:
    yy, xx = _grid()
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    level = rng.uniform(0.3, 0.9)
    image = level + rng.uniform(0.05, 0.25) * (ramp - 0.5)
    return image + rng.normal(0, 0.03, image.shape)


def _person(image: np.ndarray, rng: np.random.Generator) -> None:
    """A dark silhouette: head, shoulders and body, at a random place and size."""
    yy, xx = _grid()
    height = rng.uniform(45, 85)
    cx = rng.uniform(30, 66)
    top = rng.uniform(4, SIZE - height)
    head_r = height * 0.11
    tone = rng.uniform(0.0, 0.25)
    head = (xx - cx) ** 2 + (yy - (top + head_r)) ** 2 <= head_r**2
    body_top = top + 2 * head_r
    half_w = height * 0.17
    body = (np.abs(xx - cx) <= half_w * (1.0 - 0.3 * (yy - body_top) / height)) & (
        (yy >= body_top) & (yy <= top + height)
    )
    image[head | body] = tone


def _clutter(image: np.ndarray, rng: np.random.Generator) -> None:
    """Boxes and discs of any tone: things that are not people."""
    yy, xx = _grid()
    for _ in range(rng.integers(1, 4)):
        tone = rng.uniform(0.0, 1.0)
        if rng.random() < 0.5:
            x0, y0 = rng.uniform(0, SIZE - 20, 2)
            w, h = rng.uniform(10, 50, 2)
            image[(xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)] = tone
        else:
            cx, cy = rng.uniform(10, SIZE - 10, 2)
            image[(xx - cx) ** 2 + (yy - cy) ** 2 <= rng.uniform(5, 25) ** 2] = tone


def synthetic_image(rng: np.random.Generator, person: bool) -> np.ndarray:
    """One 96x96 int8 tensor; the float value (q + 1) * 2/255 spans [-1, 1] like the pixels."""
    image = _background(rng)
    if rng.random() < 0.6:
        _clutter(image, rng)
    if person:
        _person(image, rng)
    pixels = np.clip(np.round(image * 255.0 - 128.0), -128, 127)
    return pixels.astype(np.int8).reshape(1, SIZE, SIZE, 1)


def dequantize_input(q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float64) - INPUT_ZERO_POINT) * INPUT_SCALE


# ---- float network (NHWC, TensorFlow SAME padding) --------------------------------------------


def _same_pad(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    size = x.shape[1]
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    before = total // 2
    return np.pad(x, ((0, 0), (before, total - before), (before, total - before), (0, 0)))


def _patches(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """[n, out, out, k, k, c] windows of x."""
    padded = _same_pad(x, k, stride)
    out = -(-x.shape[1] // stride)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    windows = windows[:, : (out - 1) * stride + 1 : stride, : (out - 1) * stride + 1 : stride]
    return np.moveaxis(windows, 3, 5)  # [n, oh, ow, c, kh, kw] -> [n, oh, ow, kh, kw, c]


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """w: [out, kh, kw, in] (TFLite CONV_2D layout)."""
    k = w.shape[1]
    return np.einsum("nhwijc,oijc->nhwo", _patches(x, k, stride), w, optimize=True) + b


def depthwise(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """w: [1, kh, kw, c] (TFLite DEPTHWISE_CONV_2D layout, depth multiplier 1)."""
    k = w.shape[1]
    return np.einsum("nhwijc,ijc->nhwc", _patches(x, k, stride), w[0], optimize=True) + b


@dataclass
class Layer:
    kind: str  # conv | dw | pw
    stride: int
    weights: np.ndarray
    bias: np.ndarray
    out_max: float = 6.0  # calibrated upper end of the RELU6 output


def _apply(layer: Layer, x: np.ndarray) -> np.ndarray:
    if layer.kind == "dw":
        return depthwise(x, layer.weights, layer.bias, layer.stride)
    return conv(x, layer.weights, layer.bias, layer.stride)


def make_backbone(rng: np.random.Generator, calibration: np.ndarray) -> list[Layer]:
    """Random layers, each rescaled so its pre-activations on the calibration images have
    per-channel mean 0.5 and deviation 1 (most units active, few clipped at 6)."""
    layers: list[Layer] = []
    x = calibration
    channels = x.shape[-1]
    for kind, stride, out in BACKBONE:
        if kind == "dw":
            weights = rng.normal(0, 1, (1, 3, 3, channels))
        else:
            k = 3 if kind == "conv" else 1
            weights = rng.normal(0, 1, (out, k, k, channels))
        layer = Layer(kind, stride, weights, np.zeros(out))
        z = _apply(layer, x)
        mean = z.mean(axis=(0, 1, 2))
        std = z.std(axis=(0, 1, 2)) + 1e-6
        # Rescale each output channel: its weights live on axis 3 (dw) or axis 0 (conv).
        scale = 1.0 / std
        layer.weights = weights * (scale if kind == "dw" else scale[:, None, None, None])
        layer.bias = 0.5 - mean * scale
        z = _apply(layer, x)
        x = np.clip(z, 0.0, 6.0)
        layer.out_max = float(min(max(np.percentile(x, 99.99), 0.5), 6.0))
        channels = out
        layers.append(layer)
    return layers


def features(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = np.clip(_apply(layer, x), 0.0, layer.out_max)
    return x.mean(axis=(1, 2))  # AVERAGE_POOL_2D over the whole 3x3 map


def train_classifier(
    feats: np.ndarray, labels: np.ndarray, steps: int = 400, lr: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression on pooled features by plain gradient descent."""
    mean, std = feats.mean(axis=0), feats.std(axis=0) + 1e-6
    z = (feats - mean) / std
    w = np.zeros((z.shape[1], 2))
    b = np.zeros(2)
    onehot = np.eye(2)[labels]
    for _ in range(steps):
        logits = z @ w + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) / len(z)
        w -= lr * (z.T @ grad + 1e-3 * w)
        b -= lr * grad.sum(axis=0)
    # Fold the feature normalisation into the layer: logits = feats @ w' + b'.
    w_folded = w / std[:, None]
    b_folded = b - mean @ w_folded
    return w_folded, b_folded


# ---- quantization ----------------------------------------------------------------------------


def _per_channel(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel; returns (int8 values, scales)."""
    moved = np.moveaxis(weights, axis, 0)
    scales = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1) / 127.0
    scales = np.maximum(scales, 1e-8)
    shape = [1] * weights.ndim
    shape[axis] = -1
    q = np.clip(np.round(weights / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def _asymmetric(lo: float, hi: float) -> tuple[float, int]:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zero_point


@dataclass
class Network:
    """The float network: backbone, classifier, and its logits on the calibration images."""

    layers: list[Layer]
    w_cls: np.ndarray  # [channels, 2]
    b_cls: np.ndarray  # [2]
    calibration_logits: np.ndarray

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class (0 no_person, 1 person) of int8 image tensors [n, 96, 96, 1]."""
        feats = features(self.layers, dequantize_input(images))
        return np.argmax(feats @ self.w_cls + self.b_cls, axis=1)


def make_network(seed: int = 20261125, train_images: int = 400) -> Network:
    rng = np.random.default_rng(seed)
    calibration = dequantize_input(
        np.concatenate([synthetic_image(rng, person=i % 2 == 0) for i in range(24)])
    )
    layers = make_backbone(rng, calibration)
    train_labels = np.array([i % 2 for i in range(train_images)])
    train = dequantize_input(
        np.concatenate([synthetic_image(rng, person=bool(y)) for y in train_labels])
    )
    w_cls, b_cls = train_classifier(features(layers, train), train_labels)
    logits = features(layers, calibration) @ w_cls + b_cls
    return Network(layers, w_cls, b_cls, logits)


def build_model(net: Network) -> bytes:
    layers, w_cls, b_cls, logits = net.layers, net.w_cls, net.b_cls, net.calibration_logits
    b = ModelBuilder(description="microdeploy person_detection example (synthetic VWW network)")
    x = b.add_tensor(
        [1, SIZE, SIZE, 1], "int8", scale=INPUT_SCALE, zero_point=INPUT_ZERO_POINT, name="input"
    )
    image, x_scale, size, channels = x, INPUT_SCALE, SIZE, 1
    for i, layer in enumerate(layers):
        axis = 3 if layer.kind == "dw" else 0
        q, w_scales = _per_channel(layer.weights, axis)
        out_channels = q.shape[axis]
        w = b.add_tensor(
            list(q.shape), "int8", data=q, scale=w_scales.tolist(),
            zero_point=[0] * out_channels, quantized_dimension=axis, name=f"layer{i}/weights",
        )  # fmt: skip
        bias_scales = x_scale * w_scales
        bias = b.add_tensor(
            [out_channels], "int32",
            data=np.round(layer.bias / bias_scales).astype(np.int32),
            scale=bias_scales.tolist(), zero_point=[0] * out_channels, name=f"layer{i}/bias",
        )  # fmt: skip
        size = -(-size // layer.stride)
        y_scale = layer.out_max / 255.0
        y = b.add_tensor(
            [1, size, size, out_channels], "int8", scale=y_scale, zero_point=-128,
            name=f"layer{i}/{layer.kind}_relu6",
        )  # fmt: skip
        options = {
            "padding": "SAME",
            "stride_w": layer.stride,
            "stride_h": layer.stride,
            "fused_activation_function": "RELU6",
        }
        if layer.kind == "dw":
            options["depth_multiplier"] = 1
            b.add_operator("DEPTHWISE_CONV_2D", [x, w, bias], [y], options)
        else:
            b.add_operator("CONV_2D", [x, w, bias], [y], options)
        x, x_scale, channels = y, y_scale, out_channels

    pooled = b.add_tensor([1, 1, 1, channels], "int8", scale=x_scale, zero_point=-128, name="pool")
    b.add_operator(
        "AVERAGE_POOL_2D",
        [x],
        [pooled],
        {"padding": "VALID", "stride_w": 1, "stride_h": 1, "filter_width": size,
         "filter_height": size, "fused_activation_function": "NONE"},
    )  # fmt: skip
    q, w_scales = _per_channel(w_cls.T.reshape(2, 1, 1, channels), 0)
    w = b.add_tensor(
        [2, 1, 1, channels], "int8", data=q, scale=w_scales.tolist(), zero_point=[0, 0],
        name="classifier/weights",
    )  # fmt: skip
    bias_scales = x_scale * w_scales
    bias = b.add_tensor(
        [2], "int32", data=np.round(b_cls / bias_scales).astype(np.int32),
        scale=bias_scales.tolist(), zero_point=[0, 0], name="classifier/bias",
    )  # fmt: skip
    margin = 1.25  # room for images scoring beyond the calibration set
    l_scale, l_zero = _asymmetric(margin * float(logits.min()), margin * float(logits.max()))
    logit = b.add_tensor([1, 1, 1, 2], "int8", scale=l_scale, zero_point=l_zero, name="logits")
    b.add_operator(
        "CONV_2D",
        [pooled, w, bias],
        [logit],
        {"padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "NONE"},
    )
    shape = b.add_tensor([2], "int32", data=np.array([1, 2], np.int32), name="reshape/shape")
    flat = b.add_tensor([1, 2], "int8", scale=l_scale, zero_point=l_zero, name="logits_flat")
    b.add_operator("RESHAPE", [logit, shape], [flat], {"new_shape": [1, 2]})
    scores = b.add_tensor([1, 2], "int8", scale=1.0 / 256.0, zero_point=-128, name="scores")
    b.add_operator("SOFTMAX", [flat], [scores], {"beta": 1.0})
    b.set_io([image], [scores])
    return b.build()


def test_images(net: Network, seed: int = 7) -> dict[str, np.ndarray]:
    """One person and one no-person image (int8 [1, 96, 96, 1]) for the example and its tests.

    The network gets about 70% of synthetic images right, so these are the first images of a
    seeded stream that it classifies correctly: the demo shows both labels."""
    rng = np.random.default_rng(seed)
    picked: dict[str, np.ndarray] = {}
    while len(picked) < 2:
        person = rng.random() < 0.5
        name = LABELS[int(person)]
        image = synthetic_image(rng, person)
        if name not in picked and net.predict(image)[0] == int(person):
            picked[name] = image
    return {"person": picked["person"], "no_person": picked["no_person"]}


def grey_bmp(tensor: np.ndarray) -> bytes:
    """8-bit grey BMP whose pixel bytes are the int8 tensor's bytes (TFLM's image convention),
    so `microdeploy run --input image.bmp` sends exactly this tensor."""
    height, width = tensor.shape[1], tensor.shape[2]
    rows = tensor.reshape(height, width).view(np.uint8)[::-1]  # BMP rows go bottom-up
    palette = b"".join(bytes((v, v, v, 0)) for v in range(256))
    stride = (width + 3) // 4 * 4
    pixels = b"".join(row.tobytes() + b"\0" * (stride - width) for row in rows)
    offset = 14 + 40 + len(palette)
    header = struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, len(pixels), 2835, 2835, 256, 0)
    return header + info + palette + pixels


def main() -> None:
    net = make_network()
    (HERE / "model.tflite").write_bytes(build_model(net))
    images = test_images(net)
    (HERE / "input.bin").write_bytes(images["person"].tobytes())
    for name, tensor in images.items():
        (HERE / f"{name}.bmp").write_bytes(grey_bmp(tensor))
    print(f"wrote model.tflite, input.bin, person.bmp, no_person.bmp in {HERE}")


if __name__ == "__main__":
    main()
