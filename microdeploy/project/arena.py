"""The tensor arena size that `init` compiles into a project (MD_ARENA_BYTES).

In order of preference: the user's --arena; what the C++ runtime itself needs, measured with the
host runner (microdeploy.host_runtime, when available) plus a small margin; otherwise an upper
bound from the model (every activation tensor without reuse, plus a tail allowance).

With the "auto" tiling policy, when the measured arena would not leave the board's RAM room for
the rest of the firmware (board_fit.RUNTIME_RAM, an estimate) but streaming a stage needs less,
the arena is sized for the streamed plan: the runtime's auto policy then streams the stage
because the layer-by-layer plan does not fit that arena (docs/patch_execution.md).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from microdeploy.errors import MicrodeployError, ModelError
from microdeploy.model.board_fit import RUNTIME_RAM
from microdeploy.project.model_facts import ModelFacts

# Room for the persistent tail beyond what the host measured (pointer sizes differ between the
# 64-bit host and a 32-bit MCU only downwards, so this is slack, not a correction).
_MEASURED_MARGIN = 256
_TAIL_ALLOWANCE_BASE = 2048
_TAIL_ALLOWANCE_PER_TENSOR = 64


def _round16(n: int) -> int:
    return (n + 15) // 16 * 16


def _measured(model_path: Path, tiling: str) -> int | None:
    """Arena bytes the runtime itself plans for the model (None if the runner is unavailable)."""
    try:
        host_runtime = importlib.import_module("microdeploy.host_runtime")
        return int(host_runtime.plan_model(model_path, sanitize=False, tiling=tiling).arena_bytes)
    except ModelError as exc:
        # The runtime itself refuses the model (HostRunnerError): the firmware would only
        # report it at boot, so say it now.
        if getattr(exc, "kind", "ArenaTooSmall") == "ArenaTooSmall":
            return None
        raise ModelError(
            f"{model_path}: the runtime refuses this model: {exc.message}",
            hint="the model is corrupt or outside what the runtime supports; "
            "`microdeploy inspect` shows its ops and tensors",
        ) from None
    except (ImportError, AttributeError, MicrodeployError, OSError, ValueError, TypeError):
        return None


def arena_size(
    model_path: Path,
    facts: ModelFacts,
    override: int | None,
    tiling: str = "auto",
    ram_bytes: int | None = None,
) -> tuple[int, str]:
    """(bytes, how they were chosen). `tiling`: the policy the firmware's runtime plans with
    (a smaller --arena than the layer-by-layer plan needs makes "auto" stream a stage);
    `ram_bytes`: the board's RAM budget (None: no budget)."""
    if override is not None:
        return _round16(override), "set with --arena"
    measured = _measured(model_path, tiling)
    if measured is not None and tiling == "auto" and ram_bytes is not None:
        if measured + _MEASURED_MARGIN + RUNTIME_RAM > ram_bytes:
            streamed = _measured(model_path, "on")
            if streamed is not None and streamed < measured:
                return _round16(streamed + _MEASURED_MARGIN), (
                    f"measured by the host runner with early layers streamed ({streamed} bytes)"
                    f" plus {_MEASURED_MARGIN}: layer by layer ({measured} bytes) would not leave"
                    " room in the board's RAM, so the runtime streams them to fit"
                )
    if measured is not None:
        return _round16(measured + _MEASURED_MARGIN), (
            f"measured by the host runner ({measured} bytes) plus {_MEASURED_MARGIN}"
        )
    bound = facts.activation_bytes_upper_bound()
    tail = _TAIL_ALLOWANCE_BASE + _TAIL_ALLOWANCE_PER_TENSOR * facts.num_tensors
    return _round16(bound + tail), (
        "upper bound: all activation tensors without reuse plus a tail allowance"
    )
