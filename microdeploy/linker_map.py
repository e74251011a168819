"""Flash bytes per object file, read from a GNU ld map file (md-cortexm writes firmware.map).

`build` uses it to record how much of a firmware's flash each kernel and the model data take, so
`inspect` can estimate another model's firmware from real figures (build_records.py).
"""

from __future__ import annotations

import re
from pathlib import Path

# Output sections whose contents are stored in flash (md-cortexm's linker script; .data is
# copied from flash at reset, so it takes flash too).
FLASH_SECTIONS = frozenset(
    {
        ".isr_vector",
        ".text",
        ".ARM.extab",
        ".ARM.exidx",
        ".preinit_array",
        ".init_array",
        ".fini_array",
        ".data",
    }
)
_MAP_START = "Linker script and memory map"
_OUTPUT = re.compile(r"^(\.\S+)")
# " .text.name  0xADDR  0xSIZE object" on one line, or the name alone and the rest on the next.
_INPUT_FULL = re.compile(r"^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
_INPUT_NAME = re.compile(r"^ (\.\S+)$")
_INPUT_REST = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")


def flash_by_object(map_text: str) -> dict[str, int]:
    """Bytes of flash each input object contributes (alignment fill not counted)."""
    sizes: dict[str, int] = {}
    started = False
    output = ""
    pending = False  # the previous line was an input section name alone
    for line in map_text.splitlines():
        if not started:
            started = line.startswith(_MAP_START)
            continue
        heading = _OUTPUT.match(line)
        if heading:
            output, pending = heading.group(1), False
            continue
        if output not in FLASH_SECTIONS:
            continue
        size_obj: tuple[str, str] | None = None
        if pending:
            rest = _INPUT_REST.match(line)
            size_obj = (rest.group(1), rest.group(2)) if rest else None
            pending = False
        else:
            full = _INPUT_FULL.match(line)
            if full and full.group(1) != "*fill*":
                size_obj = (full.group(2), full.group(3))
            elif _INPUT_NAME.match(line):
                pending = True
        if size_obj is not None:
            size, obj = int(size_obj[0], 16), size_obj[1].strip()
            if size:
                sizes[obj] = sizes.get(obj, 0) + size
    return sizes


def kernel_op(obj: str) -> str | None:
    """The builtin op a runtime kernel object implements (md/kernels/conv_2d.o -> CONV_2D)."""
    path = Path(obj)
    if "kernels" not in path.parts[:-1] or "md" not in path.parts:
        return None
    stem = path.name.split(".")[0]
    return stem.upper() or None


def is_model_data(obj: str) -> bool:
    return Path(obj).name.split(".")[0] == "model_data"
