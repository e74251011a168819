"""Entry point of the `microdeploy` command.

Each command group lives in its own module exposing `register(app)`; adding one is a one-line
change to COMMAND_MODULES. Every MicrodeployError (the user's input, environment or device is at
fault) is printed as `error: ...` / `hint: ...` on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from microdeploy.cli.console import print_error
from microdeploy.errors import MicrodeployError

# One line per command group module (each defines `register(app: typer.Typer) -> None`).
COMMAND_MODULES = [
    "microdeploy.cli.project_cmd",
    "microdeploy.cli.build_cmd",
    "microdeploy.cli.boards_cmd",
    "microdeploy.cli.doctor_cmd",
    "microdeploy.cli.inspect_cmd",
    "microdeploy.cli.device_cmd",
    "microdeploy.cli.vww_cmd",
    "microdeploy.cli.eval_cmd",
    "microdeploy.cli.bench_cmd",
    "microdeploy.cli.mlperf_cmd",
]

app = typer.Typer(
    name="microdeploy",
    help="Run quantized TFLite models on microcontrollers with a small C++ runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module_name in COMMAND_MODULES:
    importlib.import_module(module_name).register(app)


def _usage_error_classes() -> tuple[type[Exception], ...]:
    """Click's usage-error class, and typer's own copy of it: typer >= 0.20 vendors click as
    typer._click, and a missing argument then raises that class, not click.ClickException."""
    import click

    classes: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:
        pass
    else:
        classes.append(VendoredClickException)
    return tuple(classes)


_USAGE_ERRORS = _usage_error_classes()


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the exit code (also used by tests)."""
    try:
        code = app(args=argv, prog_name="microdeploy", standalone_mode=False)
    except MicrodeployError as exc:
        print_error(exc)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print_error(MicrodeployError("aborted"))
        return 130
    except KeyboardInterrupt:
        print_error(MicrodeployError("interrupted"))
        return 130
    except _USAGE_ERRORS as exc:  # click usage errors carry their own exit code and message
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
