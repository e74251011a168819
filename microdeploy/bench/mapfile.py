"""Flash bytes per part of a firmware, read from the GNU linker's map file.

Every input section placed in a flash-resident output section (vector table, code, read-only
data, init arrays, exception tables, and the load image of .data) is attributed to the object
file it came from, and the object to a part:
- `model`: the generated model_data (the model and the example input);
- `runtime`: lib/md_runtime except its protocol app (core, planner, kernels, port);
- `app`: the protocol service (md/app) and the project's own sources (main.cpp, op list);
- `other`: C/C++ library, start-up code, and the linker's alignment fill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from microdeploy.errors import BuildError

PARTS = ("model", "runtime", "app", "other")
_FILL = "*fill*"
_FLASH_SECTIONS = frozenset(
    {
        ".isr_vector",
        ".text",
        ".rodata",
        ".ARM.extab",
        ".ARM.exidx",
        ".preinit_array",
        ".init_array",
        ".fini_array",
        ".data",
    }
)
_OUTPUT = re.compile(r"^(\.[\w.]+)")
_INPUT_FULL = re.compile(
    r"^ (\*fill\*|[\w.$]+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s+(\S.*))?$"
)
_HEADER = re.compile(r"^\.[\w.]+\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")
_CONTINUATION_BARE = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s|$)")
_INPUT_NAME = re.compile(r"^ ([\w.$]+)$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")


@dataclass(frozen=True)
class FlashReport:
    parts: dict[str, int]  # bytes per part (keys: PARTS)
    runtime_objects: dict[str, int]  # runtime bytes per object, e.g. "md/kernels/conv_2d.o"


def part_of(obj: str) -> str:
    path = obj.replace("\\", "/")
    if "model_data" in path:
        return "model"
    if "/md_runtime/" in path:
        return "app" if "/md/app/" in path else "runtime"
    if "/src/" in path and ".pio/build/" in path:
        return "app"
    return "other"


def flash_by_part(map_path: Path) -> dict[str, int]:
    """Bytes of flash per part (keys: PARTS)."""
    return flash_report(map_path).parts


def flash_report(map_path: Path) -> FlashReport:
    totals = dict.fromkeys(PARTS, 0)
    objects: dict[str, int] = {}
    for obj, share in flash_objects(map_path).items():
        part = "other" if obj in (_FILL, UNLISTED) else part_of(obj)
        totals[part] += share
        if part == "runtime":
            name = obj.replace("\\", "/").split("/md_runtime/", 1)[1]
            objects[name] = objects.get(name, 0) + share
    return FlashReport(totals, dict(sorted(objects.items(), key=lambda kv: -kv[1])))


UNLISTED = "*unlisted*"  # alignment inside a flash section that the map lists no fill for


def flash_objects(map_path: Path) -> dict[str, int]:
    """Flash bytes per input object file as the map names it (e.g. "lib/x/libfoo.a(bar.o)"),
    plus the linker's alignment fill (`*fill*`) and alignment it lists no fill for
    (`UNLISTED`); the values add up to the flash sections' sizes."""
    try:
        lines = map_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise BuildError(f"cannot read the linker map {map_path}: {exc}", hint="rebuild") from None
    objects: dict[str, int] = {}
    for start, end, items in _flash_sections(lines):
        # Merged sections (e.g. .rodata.str1.4 of many objects) are listed with their size
        # before merging at the address of what follows them: clamp each to the next address.
        items.sort(key=lambda item: item[0])
        placed = 0
        for index, (address, size, obj) in enumerate(items):
            limit = items[index + 1][0] if index + 1 < len(items) else end
            share = max(0, min(size, limit - address))
            if share:
                objects[obj] = objects.get(obj, 0) + share
            placed += share
        if end - start - placed > 0:
            objects[UNLISTED] = objects.get(UNLISTED, 0) + end - start - placed
    if not any(objects.values()):
        raise BuildError(f"no flash sections found in {map_path}", hint="is it a GNU ld map?")
    return objects


def _flash_sections(lines: list[str]) -> list[tuple[int, int, list[tuple[int, int, str]]]]:
    """(start, end, [(address, size, object file or _FILL)]) of each flash output section."""
    sections: list[tuple[int, int, list[tuple[int, int, str]]]] = []
    items: list[tuple[int, int, str]] | None = None
    pending = False  # an input section whose address and size are on the next line
    for line in lines:
        output = _OUTPUT.match(line)
        if output:
            items, pending = None, False
            header = _HEADER.match(line)
            if output.group(1) in _FLASH_SECTIONS and header:
                start, size = int(header.group(1), 16), int(header.group(2), 16)
                items = []
                sections.append((start, start + size, items))
            elif output.group(1) in _FLASH_SECTIONS:
                items = []  # header wrapped: the address is on the next line
                sections.append((-1, -1, items))
            continue
        if items is None:
            continue
        if sections[-1][0] == -1:
            wrapped = _CONTINUATION_BARE.match(line)
            if wrapped:
                start, size = int(wrapped.group(1), 16), int(wrapped.group(2), 16)
                sections[-1] = (start, start + size, items)
                continue
        if pending:
            pending = False
            cont = _CONTINUATION.match(line)
            if cont:
                address, size, obj = cont.groups()
                items.append((int(address, 16), int(size, 16), obj))
                continue
        full = _INPUT_FULL.match(line)
        if full:
            name, address, size, obj = full.groups()
            if name == _FILL or obj:
                items.append((int(address, 16), int(size, 16), _FILL if name == _FILL else obj))
            continue
        pending = _INPUT_NAME.match(line) is not None
    return sections
