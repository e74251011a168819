"""Reads the user's platformio_user.ini for settings that would replace microdeploy's own.

PlatformIO reads platformio_user.ini after the generated platformio.ini and a later value wins,
so a `build_flags` line under `[env:<board>]` drops the board's and the model's -D flags (serial
baud, kernel set, type variants, camera pins) without a word. The generated project appends the
`[user]` section's flags instead; `build` names any replacing line so the user can move it.
"""

from __future__ import annotations

import configparser
from pathlib import Path

USER_INI = "platformio_user.ini"
_APPENDED = ("build_flags", "build_src_flags")  # platformio.ini appends ${user.<name>}


def replacing_settings(project: Path, env: str) -> list[str]:
    """One message per flags setting in the user's file that replaces the generated one."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    try:
        parser.read_string((project / USER_INI).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return []  # no file, or one PlatformIO itself will report while parsing
    messages = []
    for section in (f"env:{env}", "env"):
        for option in _APPENDED:
            if parser.has_option(section, option):
                messages.append(
                    f"{USER_INI} sets {option} under [{section}], which replaces microdeploy's "
                    f"own {option}: move it under [user] to add to them instead"
                )
    return messages
