"""`microdeploy flash`, `monitor` and `run`: the device side of the command line.

Only parsing and printing here; the work is in microdeploy.device and microdeploy.protocol.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from microdeploy.cli.console import err, out
from microdeploy.device.flash import flash as flash_device
from microdeploy.device.flash import stop_device
from microdeploy.device.hil import InputResult, resolve_port, run_inputs
from microdeploy.errors import DeviceError
from microdeploy.project.app_meta import AppSpec, app_of_project
from microdeploy.protocol.codec import Record, StreamEvent
from microdeploy.protocol.monitor import MonitorState, event_as_json, record_as_json
from microdeploy.protocol.session import Device, DeviceInfo

ProjectArg = Annotated[
    Path | None,
    typer.Argument(help="Project folder (default: the current folder).", show_default=False),
]
PortOpt = Annotated[
    str | None,
    typer.Option("--port", "-p", help="Serial port: /dev/ttyACM0, a pty path, socket://h:p."),
]
BaudOpt = Annotated[int, typer.Option("--baud", "-b", help="Baud rate of a real serial port.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _project(project: Path | None) -> Path:
    return (project or Path(".")).resolve()


def _print_event(event: StreamEvent) -> None:
    err.print(f"[yellow]stream {event.kind}:[/] {escape(event.detail)}")


# ---- flash ------------------------------------------------------------------------------------


def flash(
    project: ProjectArg = None,
    port: PortOpt = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop the native program or emulator instead.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start the built firmware (native: on a pty; emulated board: in QEMU; real: upload).

    Prints where the device listens, for `monitor`, `run` or any serial terminal.
    """
    folder = _project(project)
    if stop:
        stopped = stop_device(folder)
        if as_json:
            print(json.dumps({"stopped": stopped}))
        else:
            out.print("Stopped the device." if stopped else "No running device to stop.")
        return
    if as_json:
        result = flash_device(folder, port)
    else:
        with err.status("Flashing..."):
            result = flash_device(folder, port)
    state = result.state
    if as_json:
        print(
            json.dumps(
                {
                    "board": state.board,
                    "kind": state.kind,
                    "port": state.port,
                    "pid": state.pid,
                    "firmware": state.firmware,
                    "log": state.log,
                }
            )
        )
        return
    where = {
        "native": f"native program (pid {state.pid}) on {state.port}",
        "qemu": f"QEMU {result.board.name} (pid {state.pid}) on {state.port}",
        "board": f"{state.board} on {state.port or 'its serial port'}",
    }[state.kind]
    out.print(f"[green]Device running:[/] {escape(where)}")
    out.print(f"  watch it:  microdeploy monitor {escape(str(project or '.'))}")
    if state.kind == "qemu":
        out.print(
            f"  or with any terminal: nc {state.port.removeprefix('socket://').replace(':', ' ')}"
        )
    elif state.port:
        out.print(f"  or with any terminal: picocom {escape(state.port)}")
    if state.kind != "board":
        out.print(f"  stop it:   microdeploy flash {escape(str(project or '.'))} --stop")


# ---- monitor ----------------------------------------------------------------------------------


def _banner_table(state: MonitorState) -> Table:
    table = Table.grid(padding=(0, 2))
    banner = state.banner
    if banner is None:
        table.add_row("device", "[dim]waiting for its banner...[/]")
        return table
    table.add_row("board", escape(banner.text("board")))
    table.add_row("runtime", escape(banner.text("runtime")))
    table.add_row("model", escape(banner.text("model")))
    table.add_row("status", escape(banner.text("status")))
    table.add_row("arena", f"{banner.text('arena_used')} of {banner.text('arena_size')} bytes")
    table.add_row("clock", f"{escape(banner.text('clock'))} at {banner.text('hz')} Hz")
    if banner.text("input"):
        table.add_row("input", escape(banner.text("input")))
    return table


def _latest_table(state: MonitorState, app: AppSpec) -> Table:
    table = Table.grid(padding=(0, 2))
    latest = state.latest
    if latest is None:
        table.add_row("result", "[dim]no inference yet[/]")
    else:
        # Labels and real-valued scores when the project knows them, raw values otherwise.
        top = ", ".join(
            f"{app.label(c)}: {app.score(v):.3g} (raw {v})"
            if app.labels or app.output_quantization
            else f"class {c}: {v}"
            for c, v in latest.top
        )
        table.add_row("inference", f"#{latest.index}")
        table.add_row("top", escape(top or "-"))
        table.add_row("latency", f"{latest.us} us ({latest.ticks} {escape(latest.clock)} ticks)")
        frame = state.frame
        if frame is not None and frame.int("i", -1) == latest.index:
            table.add_row(
                "frame",
                escape(
                    f"{frame.text('w')}x{frame.text('h')} {frame.text('fmt')}: capture "
                    f"{frame.text('cap_us')} us, preprocessing {frame.text('prep_us')} us"
                ),
            )
    stats = state.latency
    if stats.count:
        table.add_row(
            "running",
            f"n={stats.count} mean={stats.mean_us:.1f} min={stats.min_us} max={stats.max_us} us",
        )
    counts = state.event_counts()
    if counts:
        table.add_row(
            "[yellow]stream faults[/]", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
    for error in state.errors[-3:]:
        table.add_row("[red]error[/]", escape(f"{error.text('code')}: {error.text('msg')}"))
    return table


_PROFILE_ROWS = 12  # the most expensive ops; the live view must fit a terminal


def _profile_table(state: MonitorState) -> Table | None:
    if not state.profile:
        return None
    total = sum(p.ticks for p in state.profile) or 1
    shown = sorted(state.profile, key=lambda p: (-p.ticks, p.op))[:_PROFILE_ROWS]
    hidden = len(state.profile) - len(shown)
    table = Table(
        title=f"per-op profile of the last inference ({len(state.profile)} ops, {total} ticks)",
        caption=f"{hidden} cheaper ops not shown" if hidden else None,
    )
    table.add_column("op", justify="right")
    table.add_column("name")
    table.add_column("ticks", justify="right")
    table.add_column("%", justify="right")
    for p in shown:
        table.add_row(str(p.op), p.name, str(p.ticks), f"{100.0 * p.ticks / total:.1f}")
    return table


def _render(state: MonitorState, app: AppSpec) -> Group:
    parts: list[object] = [_banner_table(state), _latest_table(state, app)]
    profile = _profile_table(state)
    if profile is not None:
        parts.append(profile)
    return Group(*parts)


def _summary(state: MonitorState) -> str:
    stats = state.latency
    text = f"{state.records} records, {stats.count} inferences"
    if stats.count:
        text += f", latency mean {stats.mean_us:.1f} us (min {stats.min_us}, max {stats.max_us})"
    counts = state.event_counts()
    text += (
        "; stream faults: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        if counts
        else "; no stream faults"
    )
    return text


def monitor(
    project: ProjectArg = None,
    port: PortOpt = None,
    baud: BaudOpt = 115200,
    as_json: JsonOpt = False,
    count: Annotated[
        int | None, typer.Option("--count", "-n", help="Stop after N inferences.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", "-t", help="Fail when the device is silent for S seconds."),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option("--interval", help="Ask the device to run every MS milliseconds."),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Ask for the per-op profile of each inference.")
    ] = False,
) -> None:
    """Watch results, latencies, arena use and stream faults as the device reports them."""
    folder = _project(project) if (project is not None or port is None) else None
    url = resolve_port(folder, port)
    app = app_of_project(folder)  # labels and output quantization, when the project has them
    state = MonitorState()
    seen = 0

    def on_event(event: StreamEvent) -> None:
        state.add_event(event)
        if as_json:
            print(json.dumps(event_as_json(event)), flush=True)

    def on_record(record: Record) -> None:
        nonlocal seen
        if state.add_record(record) is not None:
            seen += 1
        if as_json:
            print(json.dumps(record_as_json(record)), flush=True)

    device = Device.open(url, baud, on_event=on_event, on_record=on_record)
    restore_auto: int | None = None
    live: Live | None = None
    try:
        info = device.info(timeout=timeout if timeout is not None else 10.0)
        wanted = interval if interval is not None else (info.auto_ms or 1000)
        if profile or wanted != info.auto_ms:
            device.set_auto(wanted, profile=profile)
            restore_auto = info.auto_ms
        if not as_json:
            live = Live(_render(state, app), console=out, refresh_per_second=8)
            live.start()
        silence = timeout if timeout is not None else float("inf")
        last_record = time.monotonic()
        while count is None or seen < count:
            record = device.next_record(min(0.25, silence))
            if record is None:
                if time.monotonic() - last_record > silence:
                    raise DeviceError(
                        f"no record from {url} for {timeout:g} s",
                        "the device stopped reporting; check it or `microdeploy flash` again",
                    )
                continue
            last_record = time.monotonic()
            if live is not None:
                live.update(_render(state, app))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
        if restore_auto is not None:
            try:  # leave the device as we found it; it may be gone, which is fine here
                device.send("auto", ms=restore_auto, prof=0)
            except DeviceError:
                pass
        device.close()
        if not as_json:
            err.print(f"[bold]monitor:[/] {_summary(state)}")


# ---- run --------------------------------------------------------------------------------------


def _short(array: np.ndarray, limit: int = 8) -> str:
    flat = array.reshape(-1).tolist()
    text = " ".join(str(v) for v in flat[:limit])
    return text + (f" ... ({len(flat)} values)" if len(flat) > limit else "")


def run(
    project: ProjectArg = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help=".npy, raw, .bmp, .png/.pgm/.jpg; repeat for more."),
    ] = None,
    port: PortOpt = None,
    baud: BaudOpt = 115200,
    as_json: JsonOpt = False,
    profile: Annotated[bool, typer.Option("--profile", help="Show the per-op profile.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", help="Seconds to wait for each answer.")
    ] = 30.0,
) -> None:
    """Send inputs to the device and compare its outputs bit for bit with TFLM's."""
    if not inputs:
        raise DeviceError("no input given", "pass one or more --input FILE (.npy, raw, .bmp, .png)")
    folder = _project(project) if (project is not None or port is None) else None
    results: list[InputResult] = []
    app = app_of_project(folder)  # class labels, when init was given them

    arena: dict[str, int] = {}

    def on_info(info: DeviceInfo) -> None:
        # The device's own arena report: what its planner placed, of the arena compiled in.
        arena.update(arena_used=info.arena_used, arena_size=info.arena_size)
        if not as_json and info.ready:
            out.print(
                f"{escape(info.board)}: arena {info.arena_used:,} of {info.arena_size:,} bytes used"
            )

    def on_result(result: InputResult) -> None:
        results.append(result)
        top = result.inference.top[0] if result.inference.top else None
        if as_json:
            row = {**result.as_dict(), **arena}
            if app.labels and top is not None:
                row["label"] = app.label(top[0])
                row["score"] = app.score(top[1])
            print(json.dumps(row), flush=True)
            return
        verdict = {True: "[green]match[/]", False: "[red]DIFFERENT[/]", None: "[dim]no TFLM[/]"}
        out.print(
            f"{escape(', '.join(result.files))}: {verdict[result.match]}  "
            f"{result.inference.us} us ({result.inference.ticks} {result.inference.clock} ticks)"
        )
        if app.labels and top is not None:
            out.print(
                f"  [bold]{escape(app.label(top[0]))}: {app.score(top[1]):.2f}[/] (raw {top[1]:g})"
            )
        for i, output in enumerate(result.outputs):
            out.print(f"  output {i}:    {escape(_short(output))}")
            if result.reference is not None and result.match is False:
                out.print(f"  reference {i}: {escape(_short(result.reference[i]))}")
        for p in result.profile:
            out.print(f"    op {p.op:3d} {p.name:<24} {p.ticks} ticks")

    report = run_inputs(
        folder,
        list(inputs),
        port=port,
        baud=baud,
        timeout=timeout,
        profile=profile,
        on_event=None if as_json else _print_event,
        on_result=on_result,
        on_info=on_info,
    )
    differing = [r for r in results if r.match is False]
    if not as_json and report.events:
        err.print(f"[yellow]{len(report.events)} stream fault(s) seen and recovered[/]")
    if differing:
        raise DeviceError(
            f"{len(differing)} of {len(results)} input(s) gave outputs different from TFLM's",
            "the runtime is not bit-exact for this model on this board: please report it",
        )


def register(app: typer.Typer) -> None:
    app.command("flash")(flash)
    app.command("monitor")(monitor)
    app.command("run")(run)
