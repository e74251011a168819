"""What `init` needs to know about a model: its ops (to vendor and register exactly those
kernels), its tensors (for an arena estimate) and its hash. Reading is done by
microdeploy.model.reader, which turns any malformed input into a one-line ModelError.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from microdeploy import paths
from microdeploy.errors import ModelError
from microdeploy.model.reader import Model, read_model
from microdeploy.project.vendor import kernel_file_stem


@dataclass(frozen=True)
class ModelFacts:
    model: Model
    sha256: str
    size: int
    op_names: tuple[str, ...]  # distinct builtin op names, in first-use order

    @property
    def inputs(self) -> tuple[int, ...]:
        return self.model.main.inputs

    @property
    def num_tensors(self) -> int:
        return len(self.model.tensors)

    def activation_bytes_upper_bound(self) -> int:
        """Sum of every non-constant tensor (16-byte rounded): the arena head with no reuse."""
        return sum((t.nbytes + 15) // 16 * 16 for t in self.model.tensors if not t.is_constant)


def _supported_ops(kernels: Path) -> list[str]:
    return sorted(p.stem.upper() for p in kernels.glob("*.cc"))


def read_model_facts(path: Path) -> ModelFacts:
    model = read_model(path)
    kernels = paths.runtime_dir() / "src" / "md" / "kernels"
    names: list[str] = []
    for op in model.operators:
        if op.name == "CUSTOM":
            raise ModelError(
                f"{path}: op {op.index} is the custom op '{op.custom_code}', which the runtime "
                "does not support",
                hint="convert the model with builtin ops only",
            )
        if not (kernels / f"{kernel_file_stem(op.name)}.cc").is_file():
            raise ModelError(
                f"{path}: op {op.index} ({op.name}) is not supported: the runtime has no kernel "
                "for it",
                hint=f"supported ops: {', '.join(_supported_ops(kernels))}",
            )
        if op.name not in names:
            names.append(op.name)
    data = path.read_bytes()
    return ModelFacts(model, hashlib.sha256(data).hexdigest(), len(data), tuple(names))
