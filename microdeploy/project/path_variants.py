"""Which int8 convolution code paths a generated project compiles in.

On a Cortex-M core with the DSP extension, an int8 CONV_2D runs on the SMLAD matrix-product
path and an int8 DEPTHWISE_CONV_2D on the 3x3 four-channel path whenever its shapes and
quantization allow (runtime_cpp/src/md/kernels/path_variants.h). When every such op of the model
does, the generic optimized chunks and reference int8 loops they would fall back to are dead
code, and `init` compiles them out with -DMD_KERNELS_NO_CONV_FALLBACK /
-DMD_KERNELS_NO_DEPTHWISE_FALLBACK (the paper's "link only what the model uses", one level below
the op: as type_variants.py does for float32/int16).

The rules here restate ConvDspPathServes / DepthwiseDspPathServes of path_variants.h on the model
file; the C++ prepare applies them on every build with the define, so a model that does not
qualify fails at prepare naming the define (never runs a removed path), and
tests/test_path_variants.py checks that both sides agree model by model.
"""

from __future__ import annotations

import math

import numpy as np

from microdeploy.model.reader import Model, Operator, SubGraph, Tensor
from microdeploy.model.schema import TensorType

CONV_DEFINE = "MD_KERNELS_NO_CONV_FALLBACK"
DEPTHWISE_DEFINE = "MD_KERNELS_NO_DEPTHWISE_FALLBACK"

# pointwise_dsp.h's limits (kPointwiseMaxDepth, kPointwiseChunk) and stack buffer bytes.
_DSP_MAX_DEPTH = 256
_DSP_CHUNK = 64
_DSP_BUFFER_BYTES = 2 * _DSP_MAX_DEPTH * 4
# |bias| bound of the depthwise 3x3 path's doubled requantization: 2^30 - 9 taps x 128 x 255.
_DW_BIAS_LIMIT = (1 << 30) - 9 * 128 * 255


def _quantize_multiplier(value: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier (md/quant.h): Q31 multiplier and shift of a double."""
    if value == 0.0:
        return 0, 0
    fraction, shift = math.frexp(value)
    fixed = math.floor(fraction * (1 << 31) + 0.5)  # std::round of a positive value
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def _doubled_requant_shift(multiplier: int, shift: int) -> int:
    """DoubledRequantShift (int8_opt.h): 0 when the doubled requantization does not apply."""
    if shift > 0:
        return 0
    if multiplier == 0:
        return 1
    if multiplier < (1 << 30) or shift == 0:
        return 0
    return 31 if shift < -31 else -shift


def _channel_scales(filter_tensor: Tensor, channels: int) -> list[float] | None:
    """ChannelScaleOf for channels [0, channels), None unless ScalesArePositive holds."""
    quant = filter_tensor.quantization
    if quant is None or not quant.scale:
        return None
    scales = list(quant.scale)
    if len(scales) <= 1:
        return [scales[0]] * channels if scales[0] > 0 else None
    if len(scales) < channels or not all(s > 0 for s in scales[:channels]):
        return None
    return scales[:channels]


def _scale_and_zero_point(tensor: Tensor) -> tuple[float, int] | None:
    quant = tensor.quantization
    if quant is None or not quant.scale or not quant.zero_point:
        return None
    return quant.scale[0], quant.zero_point[0]


def _multipliers_doubled(input_scale: float, output_scale: float, scales: list[float]) -> bool:
    """Every channel's multiplier (the double product, as ChannelOutputMultiplier) doubles."""
    for scale in scales:
        effective = input_scale * scale / output_scale
        if not math.isfinite(effective):
            return False
        if _doubled_requant_shift(*_quantize_multiplier(effective)) == 0:
            return False
    return True


def conv_dsp_path_serves(subgraph: SubGraph, op: Operator) -> bool:
    """ConvDspPathServes for an int8 CONV_2D: every channel chunk runs on the DSP path."""
    tensors = subgraph.tensors
    inp, flt, out = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    if len(flt.shape) != 4 or len(inp.shape) != 4:
        return False
    out_depth, filter_h, filter_w, filter_depth = flt.shape
    in_depth = inp.shape[3]
    scales = _channel_scales(flt, out_depth)
    in_q, out_q = _scale_and_zero_point(inp), _scale_and_zero_point(out)
    if filter_depth != in_depth or scales is None or in_q is None or out_q is None:
        return False
    stride_w, stride_h = op.options.get("stride_w", 0), op.options.get("stride_h", 0)
    # A 1x1 filter with stride 1 has no padding under SAME or VALID.
    window = not (filter_h == 1 and filter_w == 1 and stride_h == 1 and stride_w == 1)
    filter_size = filter_h * filter_w * in_depth
    depth = (filter_size + 3) // 4 * 4 if window else in_depth
    input_offset, output_offset = -in_q[1], out_q[1]
    if depth <= 0 or depth % 4 or depth > _DSP_MAX_DEPTH:
        return False
    if not (-127 <= input_offset <= 128 and -128 <= output_offset <= 127):
        return False
    for c0 in range(0, out_depth, _DSP_CHUNK):
        channels = min(_DSP_CHUNK, out_depth - c0)
        padded = channels * depth if depth != filter_size else 0
        if window and 12 * depth + padded > _DSP_BUFFER_BYTES:
            return False
    return _multipliers_doubled(in_q[0], out_q[0], scales)


def depthwise_dsp_path_serves(model: Model, subgraph: SubGraph, op: Operator) -> bool:
    """DepthwiseDspPathServes for an int8 DEPTHWISE_CONV_2D: every channel on the 3x3 path."""
    tensors = subgraph.tensors
    inp, flt, out = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    if len(flt.shape) != 4 or len(inp.shape) != 4 or inp.shape[3] < 1:
        return False
    _, filter_h, filter_w, out_depth = flt.shape
    multiplier = out_depth // inp.shape[3]
    scales = _channel_scales(flt, out_depth)
    in_q, out_q = _scale_and_zero_point(inp), _scale_and_zero_point(out)
    if scales is None or in_q is None or out_q is None:
        return False
    if (filter_h, filter_w) != (3, 3) or not (multiplier == 1 or multiplier % 4 == 0):
        return False
    if out_depth % 4 or not -127 <= -in_q[1] <= 128:
        return False
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias_tensor = tensors[op.inputs[2]]
        if not bias_tensor.is_constant or bias_tensor.type != TensorType.INT32:
            return False
        bias = model.tensor_data(bias_tensor).astype(np.int64).reshape(-1)
        if bias.size < out_depth or np.any(np.abs(bias[:out_depth]) >= _DW_BIAS_LIMIT):
            return False
    return _multipliers_doubled(in_q[0], out_q[0], scales)


def _is_int8(subgraph: SubGraph, op: Operator) -> bool:
    tensors = subgraph.tensors
    return (
        tensors[op.inputs[0]].type == TensorType.INT8
        and tensors[op.inputs[1]].type == TensorType.INT8
    )


def served_by_dsp_paths(model: Model) -> dict[str, tuple[bool, ...]]:
    """Define -> one verdict per int8 op of its kernel (every subgraph): True when the op runs
    whole on the DSP path, i.e. the C++ prepare accepts it in a build with that define."""
    verdicts: dict[str, list[bool]] = {CONV_DEFINE: [], DEPTHWISE_DEFINE: []}
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if len(op.inputs) < 2 or not op.outputs or min(op.inputs[:2]) < 0:
                continue
            if op.name == "CONV_2D" and _is_int8(subgraph, op):
                verdicts[CONV_DEFINE].append(conv_dsp_path_serves(subgraph, op))
            elif op.name == "DEPTHWISE_CONV_2D" and _is_int8(subgraph, op):
                verdicts[DEPTHWISE_DEFINE].append(depthwise_dsp_path_serves(model, subgraph, op))
    return {name: tuple(v) for name, v in verdicts.items()}


def compile_out_defines(model: Model) -> list[str]:
    """-D flags removing the fallback paths no op of `model` needs (sorted, may be empty): one
    per kernel that the model uses in int8 and whose every such op is served by its DSP path."""
    verdicts = served_by_dsp_paths(model)
    return [f"-D{name}" for name, ok in sorted(verdicts.items()) if ok and all(ok)]
