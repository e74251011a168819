"""The code-size rule of microdeploy.bench.tflm_m4 on one linker map: flash bytes per part
(model, runtime, port, app, other) and the runtime's bytes per object and per op group, for our
firmware and for the TFLM build alike (the rule itself is described in tflm_m4's docstring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from microdeploy.bench.mapfile import UNLISTED, flash_objects

# The static library the TFLM build archives its sources into (its members are the runtime).
TFLM_LIBRARY = "libtflm.a"


@dataclass(frozen=True)
class SideSize:
    runtime_bytes: int  # the rule's runtime objects
    port_bytes: int
    other_bytes: int  # start-up, libc/libm/libgcc, fill
    app_bytes: int
    model_bytes: int  # model + inputs
    runtime_objects: dict[str, int]  # runtime bytes per object
    groups: dict[str, int]  # runtime bytes per group (GROUPS)

    @property
    def with_port(self) -> int:
        return self.runtime_bytes + self.port_bytes


def _short(obj: str) -> str:
    """An object's name without the build directory (archive member names kept)."""
    return obj.replace("\\", "/").rsplit("/", 1)[-1]


# Which op's kernel an object is (by file name), else "core" (interpreter, allocator, planner,
# model reading and the flatbuffer parsers) or "kernel helpers" (shared by the kernels).
_OP_OBJECTS = {
    "CONV_2D": ("conv_2d.o", "kernels_conv.o", "kernels_conv_common.o"),
    "DEPTHWISE_CONV_2D": (
        "depthwise_conv_2d.o",
        "kernels_depthwise_conv.o",
        "kernels_depthwise_conv_common.o",
    ),
    "AVERAGE_POOL_2D": ("average_pool_2d.o", "kernels_pooling.o", "kernels_pooling_common.o"),
    "RESHAPE": ("reshape.o", "kernels_reshape.o", "kernels_reshape_common.o"),
    "SOFTMAX": ("softmax.o", "kernels_softmax.o", "kernels_softmax_common.o"),
}
GROUPS = ("core", "kernel helpers", *_OP_OBJECTS)


def group_of(name: str) -> str:
    """The group of a runtime object, ours ("md/kernels/conv_2d.o") or TFLM's
    ("tensorflow_lite_micro_kernels_conv.o", its source path with / as _)."""
    base = name.rsplit("/", 1)[-1]
    for op, names in _OP_OBJECTS.items():
        if ("/kernels/" in name and base in names) or any(
            base.endswith("_micro_" + n) for n in names
        ):
            return op
    return "kernel helpers" if "/kernels/" in name or "kernels" in base else "core"


def by_group(objects: dict[str, int]) -> dict[str, int]:
    groups = dict.fromkeys(GROUPS, 0)
    for name, size in objects.items():
        groups[group_of(name)] += size
    return groups


def classify_ours(obj: str) -> str:
    path = obj.replace("\\", "/")
    if "model_data" in path:
        return "model"
    if "/md_runtime/" in path:
        if "/md/app/" in path:
            return "app"
        return "port" if "/md/ports/" in path else "runtime"
    if "/src/" in path and ".pio/build/" in path:
        return "app"
    return "other"


def classify_tflm(obj: str) -> str:
    name = _short(obj)
    if name.startswith(TFLM_LIBRARY + "("):
        return "runtime"
    return {"model_data.o": "model", "main.o": "app", "debug_log.o": "port"}.get(name, "other")


def side_size(map_path: Path, classify: Callable[[str], str], strip: str | None) -> SideSize:
    """The rule applied to one map: `classify` maps an object to model/runtime/port/app/other;
    runtime objects are named from after `strip` (or by their file name)."""
    parts = dict.fromkeys(("model", "runtime", "port", "app", "other"), 0)
    objects: dict[str, int] = {}
    for obj, size in flash_objects(map_path).items():
        part = "other" if obj in ("*fill*", UNLISTED) else classify(obj)
        parts[part] += size
        if part == "runtime":
            path = obj.replace("\\", "/")
            name = path.split(strip, 1)[1] if strip and strip in path else _short(obj)
            if name.startswith(TFLM_LIBRARY + "("):
                name = name[len(TFLM_LIBRARY) + 1 : -1]
            objects[name] = objects.get(name, 0) + size
    return SideSize(
        runtime_bytes=parts["runtime"],
        port_bytes=parts["port"],
        other_bytes=parts["other"],
        app_bytes=parts["app"],
        model_bytes=parts["model"],
        runtime_objects=dict(sorted(objects.items(), key=lambda kv: -kv[1])),
        groups=by_group(objects),
    )


def ours_size(map_path: Path) -> SideSize:
    return side_size(map_path, classify_ours, "/md_runtime/")


def tflm_size(map_path: Path) -> SideSize:
    return side_size(map_path, classify_tflm, None)
