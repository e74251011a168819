"""Errors a user can fix. The CLI prints them as one line plus a hint and exits non-zero.

Anything else that escapes is a bug in microdeploy, not in the user's input.
"""

from __future__ import annotations


class MicrodeployError(Exception):
    """A failure caused by input, environment or device, with a hint on how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ModelError(MicrodeployError):
    """The .tflite file is missing, malformed or uses something we do not support."""


class BoardError(MicrodeployError):
    """Unknown board, or a board definition file that is wrong."""


class ToolchainError(MicrodeployError):
    """PlatformIO, a compiler or QEMU is missing or failed."""


class BuildError(MicrodeployError):
    """The firmware did not build or does not fit the board's budget."""


class ProjectError(MicrodeployError):
    """The project folder is missing, not a microdeploy project, or would be overwritten."""


class DeviceError(MicrodeployError):
    """The device or its serial port failed (gone, silent, corrupt stream)."""
