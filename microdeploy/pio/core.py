"""PlatformIO Core without its registry.

PlatformIO Core 6.2.0 wants one package before it builds anything: `tool-scons` (pinned
`~4.41101.0` in platformio/dependencies.py, i.e. SCons 4.11.1). Offline, installing it from the
registry hangs for about 60 s and then fails. We lay that package out ourselves in a core dir
under the microdeploy cache, pointing at the SCons that pip installed beside PlatformIO
(see docs/architecture.md and ../shared/notes/platformio-offline.md for the facts this rests on):

- `package.json` with name tool-scons and version 4.41101.0;
- `.piopm` whose spec.uri is the folder's own file:// address (with `uri: null` PlatformIO's
  update check queries the registry);
- `scons.py` that runs the pip-installed SCons.

Our development platforms (md-native, md-cortexm) live in microdeploy/pio/platforms/ and are
referenced from platformio.ini by plain path, so PlatformIO never tries to install them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from microdeploy import paths

# tool-scons version that PlatformIO 6.2.0 requires; encodes SCons 4.11.1.
TOOL_SCONS_VERSION = "4.41101.0"
PLATFORMIO_VERSION = "6.2.0"
SCONS_VERSION = "4.11.1"

_SCONS_LAUNCHER = """\
# Written by microdeploy: runs the SCons that pip installed beside PlatformIO, so PlatformIO
# never downloads its own tool-scons package.
import sys

from SCons.Script.Main import main

if __name__ == "__main__":
    sys.exit(main())
"""


def platforms_dir() -> Path:
    """Folder holding our own development platforms (shipped inside the package)."""
    return Path(__file__).resolve().parent / "platforms"


def platform_dir(name: str) -> Path:
    return platforms_dir() / name


def core_dir() -> Path:
    """PlatformIO core dir used by every microdeploy build (never the user's ~/.platformio).

    One per microdeploy checkout: PlatformIO records where each symlink:// platform points, so
    two checkouts sharing one core dir would keep re-pointing (and racing on) that record.
    """
    checkout = hashlib.sha256(str(platforms_dir()).encode()).hexdigest()[:10]
    return paths.cache_dir() / f"platformio-{checkout}"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def tool_scons_dir(core: Path | None = None) -> Path:
    return (core or core_dir()) / "packages" / "tool-scons"


def ensure_core(core: Path | None = None) -> Path:
    """Creates (or repairs) the PlatformIO core dir with a local tool-scons package.

    Idempotent and cheap: files are only rewritten when their content differs.
    """
    core = core or core_dir()
    package = tool_scons_dir(core)
    package.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "description": f"SCons {SCONS_VERSION} from PyPI, provided offline by microdeploy",
        "keywords": ["build tools"],
        "system": "*",
    }
    _write_if_changed(package / "package.json", json.dumps(manifest, indent=2) + "\n")
    piopm = {
        "type": "tool",
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "spec": {
            "owner": "platformio",
            "id": None,
            "name": "tool-scons",
            "requirements": None,
            "uri": package.resolve().as_uri(),
        },
    }
    _write_if_changed(package / ".piopm", json.dumps(piopm))
    _write_if_changed(package / "scons.py", _SCONS_LAUNCHER)
    return core


def core_status(core: Path | None = None) -> list[str]:
    """Problems with the core dir set-up (empty when ready); used by `doctor`."""
    package = tool_scons_dir(core)
    problems = []
    for name in ("package.json", ".piopm", "scons.py"):
        if not (package / name).is_file():
            problems.append(f"{package / name} is missing")
    for platform in ("md-native", "md-cortexm"):
        if not (platform_dir(platform) / "platform.json").is_file():
            problems.append(f"platform {platform} is missing from {platforms_dir()}")
    return problems


def pio_environment(core: Path | None = None) -> dict[str, str]:
    """Environment for a PlatformIO subprocess: our core dir, no telemetry, no update checks."""
    env = dict(os.environ)
    env.update(
        {
            "PLATFORMIO_CORE_DIR": str(core or core_dir()),
            "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
            "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
            "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "36500",
            "PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD": "0",
            "PLATFORMIO_NO_ANSI": "true",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def pio_command(*args: str) -> list[str]:
    """`pio ARGS` run with the same Python that runs microdeploy (so the pinned version)."""
    return [sys.executable, "-m", "platformio", *args]
