"""The files that make a microdeploy project a Zephyr application."""

from __future__ import annotations

from pathlib import Path

from microdeploy.boards import Board

_TEMPLATES = Path(__file__).resolve().parent / "templates"
CMAKE_FILE = "CMakeLists.txt"
PRJ_CONF = "prj.conf"
BUILD_DIR = "build"  # west's build folder inside the project


def _template(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


def generated_files(board: Board, defines: list[str]) -> dict[str, str]:
    """Rewritten by every init: CMakeLists.txt (board, sources, the board's defines)."""
    definitions = " ".join(flag.removeprefix("-D") for flag in defines)
    return {
        CMAKE_FILE: _template("CMakeLists.txt.in").format(
            zephyr_board=board.zephyr_board, definitions=definitions
        )
    }


def user_files() -> dict[str, str]:
    """Written once (the user tunes Kconfig there)."""
    return {PRJ_CONF: _template("prj.conf.in")}
