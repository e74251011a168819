"""Whether a model's firmware fits a board's flash and RAM, and where the figures come from.

- "linker": a recorded build of this very firmware (build_records.py): its `size` figures.
- "estimate" from measured builds: another model's build on the same board gives the flash of
  everything but the model and kernels (runtime core, app, libc, startup) and the RAM of
  everything but the arena and the input staging copy (stack, statics); the kernels' flash
  comes from the linker maps of the builds on that board that linked them. Kernels no build
  has measured yet, and boards without any measured build, fall back to the rough constants
  below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from microdeploy.boards import Board
from microdeploy.build_records import BuildRecord

# Rough guesses, not measurements: used only for what no recorded build on the board has
# measured. For scale, the first build on mps2-an386 (hello_world, `microdeploy build`) measured
# about 43 KB of flash besides its model and FULLY_CONNECTED kernel (7 KB), and 19 KB of RAM
# besides its arena (16 KB of it the stack the md-cortexm linker script reserves).
RUNTIME_CORE_FLASH = 24 * 1024
KERNEL_FLASH = 6 * 1024
RUNTIME_RAM = 8 * 1024 + 2 * 1024


@dataclass(frozen=True)
class EstimateBasis:
    """What an estimate was made from."""

    build: BuildRecord | None  # the build whose runtime/app flash and non-arena RAM it reuses
    kernels_measured: tuple[str, ...]  # ops whose flash a build's linker map measured
    kernels_guessed: tuple[str, ...]  # ops counted at KERNEL_FLASH


@dataclass(frozen=True)
class BoardFit:
    board: str
    flash_needed: int  # model + runtime: the linker's figure of a recorded build, or estimated
    flash_budget: int | None  # None: the board has no budget (host)
    ram_needed: int  # arena + stack + statics: the linker's figure, or estimated
    ram_budget: int | None
    build: BuildRecord | None = None  # the build whose linker figures these are
    note: str = ""  # with estimates: why no build's figures were used
    basis: EstimateBasis | None = None  # with estimates: what they were made from

    @property
    def source(self) -> str:
        """Where the figures come from: "linker" (a recorded build) or "estimate"."""
        return "estimate" if self.build is None else "linker"

    @property
    def flash_margin(self) -> int | None:
        return None if self.flash_budget is None else self.flash_budget - self.flash_needed

    @property
    def ram_margin(self) -> int | None:
        return None if self.ram_budget is None else self.ram_budget - self.ram_needed

    @property
    def fits(self) -> bool:
        return all(m is None or m >= 0 for m in (self.flash_margin, self.ram_margin))


def linker_fit(board: Board, build: BuildRecord) -> BoardFit:
    return BoardFit(
        board=board.name,
        flash_needed=build.flash_bytes,
        flash_budget=board.flash_bytes,
        ram_needed=build.ram_bytes,
        ram_budget=board.ram_bytes,
        build=build,
    )


def estimate_fit(
    board: Board,
    model_bytes: int,
    op_names: Sequence[str],
    arena_bytes: int,
    input_bytes: int,
    measured: Sequence[BuildRecord],
    note: str,
    frames: tuple[int, int] = (0, 0),
) -> BoardFit:
    """`measured`: current builds of other models on this board with a map breakdown, the best
    basis first (build_records.measured_on). RAM: the arena as planned (`init` adds a small
    margin) and the generic app's copy of the inputs (`input_bytes`) beside the basis's rest.
    `frames`: (RAM, flash) of a camera project's frames (camera.frame_storage)."""
    ops = tuple(dict.fromkeys(op_names))
    kernel_sizes: dict[str, int] = {}
    for record in reversed(measured):  # the best basis is applied last, so its sizes win
        kernel_sizes.update(record.kernel_flash)
    known = tuple(op for op in ops if op in kernel_sizes)
    guessed = tuple(op for op in ops if op not in kernel_sizes)
    kernels = sum(kernel_sizes[op] for op in known) + KERNEL_FLASH * len(guessed)
    base = measured[0] if measured else None
    if base is not None:
        rest_flash = base.flash_bytes - base.model_bytes - sum(base.kernel_flash.values())
        rest_ram = base.ram_bytes - base.arena_bytes - base.input_bytes - base.frame_ram
    else:
        rest_flash, rest_ram = RUNTIME_CORE_FLASH, RUNTIME_RAM
    return BoardFit(
        board=board.name,
        flash_needed=rest_flash + model_bytes + kernels + frames[1],
        flash_budget=board.flash_bytes,
        ram_needed=rest_ram + arena_bytes + input_bytes + frames[0],
        ram_budget=board.ram_bytes,
        note=note,
        basis=EstimateBasis(base, known, guessed),
    )
