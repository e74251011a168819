"""A board's camera (`[camera]` in its board definition) and what a camera project needs from it.

```toml
[camera]
driver = "ov767x"            # runtime_cpp/src/md/camera/<driver>/camera.cc
resolution = "qcif"          # a name below or "WxH"
pixel_format = "grayscale"   # grayscale | rgb565 (high byte first) | rgb565le | rgb888
fps = 5                      # optional, drivers that take a frame rate
crop = true                  # optional (default): centred crop to the model's aspect
library = "..."              # optional PlatformIO lib_deps entry the driver needs
component = "..."            # optional ESP-IDF component (idf_component.yml) the driver needs
defines = ["MD_CAMERA_PIN_XCLK=15"]   # optional, e.g. the sensor's pins
docs = "https://..."         # where the driver's API and the board's wiring were checked
```
`init --input camera` vendors md/camera/ and the driver, passes the frame size and format as
-D flags (the frame buffer is sized at compile time) and writes the camera main.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from microdeploy import paths

# driver -> the ports it builds with (None: any port)
DRIVER_PORTS: dict[str, tuple[str, ...] | None] = {
    "native_frames": ("native",),
    "embedded_frames": None,  # frames compiled in: `init --camera-frames DIR`
    "ov767x": ("arduino",),
    "esp32_camera": ("arduino", "espidf"),
}
RESOLUTIONS = {
    "96x96": (96, 96),
    "qqvga": (160, 120),
    "qcif": (176, 144),
    "hqvga": (240, 176),
    "240x240": (240, 240),
    "qvga": (320, 240),
    "cif": (352, 240),  # OV767X's CIF (the library's own figure)
    "vga": (640, 480),
}
# board file name -> md::camera::PixelFormat enumerator (frame_prep.h)
PIXEL_FORMATS = {
    "grayscale": "kGray8",
    "rgb565": "kRgb565Be",
    "rgb565le": "kRgb565Le",
    "rgb888": "kRgb888",
}
INPUT_KINDS = ("serial", "camera")  # init --input
# Drivers that keep one frame in a static RAM buffer of the compile-time size (camera.h's
# kFrameBytes); embedded_frames reads its frames from flash, esp32_camera's DMA buffers are
# the ESP-IDF driver's (allocated at run time, not in the linker's figures).
STATIC_FRAME_DRIVERS = ("ov767x", "native_frames")
_BYTES_PER_PIXEL = {"grayscale": 1, "rgb565": 2, "rgb565le": 2, "rgb888": 3}


def frame_bytes(width: int, height: int, pixel_format: str) -> int:
    """Bytes of one frame (md::camera::FrameBytes)."""
    return width * height * _BYTES_PER_PIXEL[pixel_format]


def frame_storage(entry: dict[str, Any]) -> tuple[int, int]:
    """(RAM, flash) bytes a camera project's frames take, from its manifest's `camera` entry."""
    size = frame_bytes(int(entry["width"]), int(entry["height"]), str(entry["pixel_format"]))
    driver = str(entry.get("driver", ""))
    ram = size if driver in STATIC_FRAME_DRIVERS else 0
    flash = size * int(entry.get("frames", 0)) if driver == "embedded_frames" else 0
    return ram, flash


class _Table(Protocol):
    def text(self, key: str, required: bool = True, default: str = "") -> str: ...
    def number(
        self, key: str, required: bool = True, default: int | None = None, minimum: int = 0
    ) -> int | None: ...
    def strings(self, key: str) -> tuple[str, ...]: ...
    def reject_unknown(self) -> None: ...
    def _get(self, key: str, kind: Any, required: bool, default: Any) -> Any: ...
    def _fail(self, key: str, problem: str) -> Exception: ...


@dataclass(frozen=True)
class CameraSpec:
    driver: str
    width: int
    height: int
    pixel_format: str  # a PIXEL_FORMATS key
    fps: int = 0
    crop: bool = True
    library: str = ""
    component: str = ""
    defines: tuple[str, ...] = ()
    docs: str = ""

    @property
    def summary(self) -> str:
        return f"{self.driver} {self.width}x{self.height} {self.pixel_format}"

    def build_defines(self) -> list[str]:
        """-D flags of every source of a camera project (camera.h reads them)."""
        flags = [
            f"-DMD_CAMERA_WIDTH={self.width}",
            f"-DMD_CAMERA_HEIGHT={self.height}",
            f"-DMD_CAMERA_FORMAT={PIXEL_FORMATS[self.pixel_format]}",
            f"-DMD_CAMERA_CROP={int(self.crop)}",
        ]
        if self.fps:
            flags.append(f"-DMD_CAMERA_FPS={self.fps}")
        return flags + [f"-D{define}" for define in self.defines]

    def runtime_dirs(self) -> tuple[str, ...]:
        """Runtime folders under md/ a camera project vendors."""
        return ("camera", f"camera/{self.driver}")


def parse_camera(table: _Table, port: str) -> CameraSpec:
    driver = table.text("driver")
    if driver not in DRIVER_PORTS:
        raise table._fail("driver", f"must be one of {', '.join(DRIVER_PORTS)}, got {driver!r}")
    if not (paths.runtime_dir() / "src" / "md" / "camera" / driver / "camera.cc").is_file():
        raise table._fail("driver", f"names no camera driver (md/camera/{driver}/camera.cc)")
    ports = DRIVER_PORTS[driver]
    if ports is not None and port not in ports:
        raise table._fail(
            "driver",
            f"'{driver}' builds with port(s) {', '.join(ports)}, this board's port is '{port}'",
        )
    resolution = table.text("resolution").lower()
    size = RESOLUTIONS.get(resolution) or _parse_size(resolution)
    if size is None:
        raise table._fail(
            "resolution", f"must be one of {', '.join(RESOLUTIONS)} or WxH, got {resolution!r}"
        )
    pixel_format = table.text("pixel_format")
    if pixel_format not in PIXEL_FORMATS:
        raise table._fail(
            "pixel_format", f"must be one of {', '.join(PIXEL_FORMATS)}, got {pixel_format!r}"
        )
    crop = table._get("crop", bool, False, True)
    spec = CameraSpec(
        driver=driver,
        width=size[0],
        height=size[1],
        pixel_format=pixel_format,
        fps=table.number("fps", required=False, default=0, minimum=0) or 0,
        crop=bool(crop),
        library=table.text("library", required=False),
        component=table.text("component", required=False),
        defines=table.strings("defines"),
        docs=table.text("docs", required=False),
    )
    for define in spec.defines:
        if not define or not define.split("=", 1)[0].replace("_", "a").isalnum():
            raise table._fail("defines", f"must be NAME or NAME=VALUE, got {define!r}")
    table.reject_unknown()
    return spec


def _parse_size(text: str) -> tuple[int, int] | None:
    width, sep, height = text.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    if not (0 < int(width) <= 16843 and 0 < int(height) <= 16843):
        return None
    return int(width), int(height)
