"""Which kernel type variants a generated project compiles in.

The multi-type kernels (runtime_cpp/src/md/kernels/type_variants.h) carry float32 and int16
paths next to their int8 ones; a project whose model uses neither on those ops gets
-DMD_KERNELS_NO_FLOAT32 / -DMD_KERNELS_NO_INT16 so the linked kernels hold only the int8 code
(as TFLM apps do with Register_CONV_2D_INT8() and friends). The decision looks at every input
and output tensor of those ops, so a model that needs a type always keeps it; a build that
lacks one anyway (a hand-added define) fails at prepare with a message naming the define.
"""

from __future__ import annotations

from microdeploy.model.reader import Model
from microdeploy.model.schema import TensorType

# Kernels whose float32/int16 branches the defines remove (those that include type_variants.h,
# directly or through pooling.h); tests/test_type_variants.py checks this against the sources.
TYPE_VARIANT_KERNELS = frozenset(
    {
        "AVERAGE_POOL_2D",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "MAX_POOL_2D",
        "SOFTMAX",
    }
)

# Define -> the tensor type whose kernel variants it removes.
COMPILE_OUT_DEFINES = {
    "MD_KERNELS_NO_FLOAT32": TensorType.FLOAT32,
    "MD_KERNELS_NO_INT16": TensorType.INT16,
}


def used_variant_types(model: Model) -> set[TensorType]:
    """Tensor types that the model's type-variant ops read or write (every subgraph)."""
    used: set[TensorType] = set()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if op.name not in TYPE_VARIANT_KERNELS:
                continue
            for index in (*op.inputs, *op.outputs):
                if index >= 0:
                    used.add(subgraph.tensors[index].type)
    return used


def compile_out_defines(model: Model) -> list[str]:
    """-D flags removing the kernel variants no op of `model` needs (sorted, may be empty)."""
    used = used_variant_types(model)
    return [f"-D{name}" for name, t in sorted(COMPILE_OUT_DEFINES.items()) if t not in used]
