"""`microdeploy run`: the hardware-in-the-loop check. Sends input tensors to the device, reads
its outputs back and compares them bit for bit with TFLM's interpreter on the host."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microdeploy import reference
from microdeploy.device.inputs import InputError, load_input
from microdeploy.device.state import load_state
from microdeploy.errors import DeviceError, ProjectError
from microdeploy.project.generate import MODEL_COPY, load_manifest
from microdeploy.protocol.codec import StreamEvent
from microdeploy.protocol.session import Device, DeviceInfo, Inference, OpProfile


@dataclass
class InputResult:
    files: list[str]
    outputs: list[np.ndarray]
    reference: list[np.ndarray] | None  # None: TFLM not installed
    inference: Inference
    profile: list[OpProfile] = field(default_factory=list)

    @property
    def match(self) -> bool | None:
        if self.reference is None:
            return None
        return len(self.outputs) == len(self.reference) and all(
            got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
            for got, want in zip(self.outputs, self.reference, strict=False)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "input": self.files if len(self.files) > 1 else self.files[0],
            "output": [o.tolist() for o in self.outputs],
            "reference": None if self.reference is None else [r.tolist() for r in self.reference],
            "match": self.match,
            "top": [list(pair) for pair in self.inference.top],
            "ticks": self.inference.ticks,
            "us": self.inference.us,
            "clock": self.inference.clock,
            "hz": self.inference.hz,
            "profile": [{"op": p.op, "name": p.name, "ticks": p.ticks} for p in self.profile],
        }


@dataclass
class RunReport:
    info: DeviceInfo
    results: list[InputResult]
    events: list[StreamEvent]


def resolve_port(project: Path | None, port: str | None) -> str:
    """The port to open: --port, else the device `flash` recorded for the project."""
    if port:
        return port
    if project is not None:
        load_manifest(project)  # a clear error for a folder that is not a project
    if project is None:
        raise DeviceError("no device given", "pass --port PORT or a PROJECT that was flashed")
    state = load_state(project)
    if state is not None and state.kind == "board" and not state.port:
        raise DeviceError(
            f"the board of {project} was flashed without --port, so its port is unknown",
            "pass --port PORT (e.g. /dev/ttyACM0; `pio device list` shows the ports)",
        )
    if state is None or not state.port:
        raise DeviceError(
            f"no running device recorded for {project}",
            f"run `microdeploy flash {project}` first, or pass --port PORT",
        )
    if not state.alive:
        raise DeviceError(
            f"the device started by `flash` (pid {state.pid}) is no longer running",
            f"run `microdeploy flash {project}` again (its log: {state.log})",
        )
    return state.port


def _group_inputs(files: list[Path], count: int) -> list[list[Path]]:
    if count == 0:
        raise DeviceError("the device reports a model without inputs")
    if len(files) % count != 0:
        raise InputError(
            f"the model has {count} inputs: give a multiple of {count} --input files "
            f"(got {len(files)})",
            "each inference takes one file per model input, in input order",
        )
    return [files[i : i + count] for i in range(0, len(files), count)]


def check_model(project: Path, info: DeviceInfo) -> bytes:
    """The project's model bytes, after checking the device runs that very model."""
    load_manifest(project)
    model_path = project / MODEL_COPY
    if not model_path.is_file():
        raise ProjectError(
            f"{model_path} is missing", f"run `microdeploy init {project} ... ` again"
        )
    model = model_path.read_bytes()
    sha16 = hashlib.sha256(model).hexdigest()[:16]
    if info.model and info.model != sha16:
        raise DeviceError(
            f"the device runs model {info.model}, the project's model is {sha16}",
            f"rebuild and flash: `microdeploy build {project} && microdeploy flash {project}`",
        )
    return model


def run_inputs(
    project: Path | None,
    files: list[Path],
    *,
    port: str | None = None,
    baud: int = 115200,
    timeout: float = 30.0,
    profile: bool = False,
    compare: bool = True,
    on_event: Callable[[StreamEvent], None] | None = None,
    on_result: Callable[[InputResult], None] | None = None,
    on_info: Callable[[DeviceInfo], None] | None = None,
) -> RunReport:
    url = resolve_port(project, port)
    with Device.open(url, baud, on_event=on_event) as device:
        info = device.info(timeout=timeout)
        if on_info is not None:
            on_info(info)
        if not info.ready:
            raise DeviceError(
                f"the device could not set the model up: {info.error or info.status}",
                "see docs/protocol.md; e.g. a larger arena with `microdeploy init --arena`",
            )
        model = check_model(project, info) if project is not None else None
        if compare and model is not None and not reference.available():
            compare = False
        restore_auto = info.auto_ms
        if restore_auto:
            device.set_auto(0)
        results: list[InputResult] = []
        for group in _group_inputs(files, len(info.inputs)):
            arrays = [
                load_input(path, tensor.dtype, tensor.shape)
                for path, tensor in zip(group, info.inputs, strict=True)
            ]
            for tensor, array in zip(info.inputs, arrays, strict=True):
                device.load_input(tensor.index, array.tobytes(), timeout=timeout)
            run = device.run(1, outputs=True, profile=profile, timeout=timeout)
            expected = reference.tflm_run(model, arrays) if compare and model is not None else None
            result = InputResult(
                [str(p) for p in group], run.outputs, expected, run.inferences[-1], run.profile
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
        if restore_auto:
            device.set_auto(restore_auto)
        return RunReport(info, results, list(device.events))
