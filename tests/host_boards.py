"""Board definitions for camera tests: the host ("native" port, md-native platform) with the
[camera] table a test needs, written into a MICRODEPLOY_BOARD_PATH folder."""

from __future__ import annotations

_HOST_BOARD = """
name = "{name}"
description = "{description}"
mcu = "host"
core = "host"
fpu = "host"
clock_hz = 0
port = "native"
clock_source = "steady_clock"
kernels = "portable"
[platformio]
platform = "md-native"
board = "native"
framework = ""
[upload]
protocol = "none"
[camera]
{camera}
"""


def host_camera_board(name: str, camera: str, description: str = "test board") -> str:
    """The TOML of a host board called `name` whose [camera] table holds the lines `camera`."""
    return _HOST_BOARD.format(name=name, description=description, camera=camera)
