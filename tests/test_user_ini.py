"""platformio_user.ini: the user's compiler flags add to the board's and the model's flags (the
`[user]` section), and a flags line that would replace them instead is named by `build`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.project.generate import init_project
from microdeploy.project.user_ini import replacing_settings

HELLO = paths.examples_dir() / "hello_world"


def _project(tmp_path: Path, board: str = "native") -> Path:
    project = tmp_path / "p"
    init_project(project, board, example="hello_world")
    return project


def _resolved(project: Path, env: str, option: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The option as PlatformIO itself reads the project (platformio.ini + platformio_user.ini);
    from the project folder, as `pio run -d` does (extra_configs is relative to it)."""
    from platformio.project.config import ProjectConfig

    monkeypatch.chdir(project)
    return " ".join(ProjectConfig("platformio.ini").get(f"env:{env}", option)).split()


def test_user_flags_are_appended_to_the_board_and_model_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, "mps2-an386")
    ours = _resolved(project, "mps2-an386", "build_flags", monkeypatch)
    assert "-DMD_SERIAL_BAUD=115200" in ours and "${user.build_flags}" not in ours
    (project / "platformio_user.ini").write_text(
        "[user]\nbuild_flags = -DMY_OPTION=1\nbuild_src_flags = -Wshadow\n"
    )
    assert _resolved(project, "mps2-an386", "build_flags", monkeypatch) == [*ours, "-DMY_OPTION=1"]
    assert _resolved(project, "mps2-an386", "build_src_flags", monkeypatch) == [
        "-Wall",
        "-Wextra",
        "-Wshadow",
    ]
    assert replacing_settings(project, "mps2-an386") == []


def test_the_default_user_file_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    text = (project / "platformio_user.ini").read_text()
    assert "[user]" in text  # the example says where flags go
    before = _resolved(project, "native", "build_flags", monkeypatch)
    (project / "platformio_user.ini").write_text("")
    assert _resolved(project, "native", "build_flags", monkeypatch) == before
    assert replacing_settings(project, "native") == []


def test_an_env_flags_line_is_named_as_replacing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    (project / "platformio_user.ini").write_text(
        "[env:native]\nbuild_flags = -DMY_OPTION=1 ; mine\n[env]\nbuild_src_flags = -O0\n"
    )
    assert _resolved(project, "native", "build_flags", monkeypatch) == [
        "-DMY_OPTION=1"
    ]  # what PlatformIO does
    messages = replacing_settings(project, "native")
    assert len(messages) == 2
    assert "build_flags under [env:native]" in messages[0] and "[user]" in messages[0]
    assert "build_src_flags under [env]" in messages[1]


def test_unreadable_user_files_are_left_to_platformio(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "platformio_user.ini").write_text("this is [not an ini\n")
    assert replacing_settings(project, "native") == []
    (project / "platformio_user.ini").unlink()
    assert replacing_settings(project, "native") == []


@pytest.mark.slow
def test_build_compiles_with_both_flag_sets_and_warns_of_a_replacing_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    main = project / "src" / "main.cpp"
    # The build fails unless the user's define and the board's define both reach main.cpp.
    main.write_text(
        "#ifndef MY_OPTION\n#error the user's flag was lost\n#endif\n"
        "#ifndef MD_SERIAL_BAUD\n#error the board's flag was lost\n#endif\n" + main.read_text()
    )
    (project / "platformio_user.ini").write_text("[user]\nbuild_flags = -DMY_OPTION=1\n")
    result = run_cli("build", str(project))
    assert result.code == 0, result.stdout + result.stderr
    assert "warning" not in result.stderr
    (project / "platformio_user.ini").write_text(
        "[user]\nbuild_flags = -DMY_OPTION=1\n[env:native]\nbuild_src_flags = -Wall -Wextra\n"
    )
    result = run_cli("build", str(project))
    assert result.code == 0, result.stdout + result.stderr
    assert "warning: platformio_user.ini sets build_src_flags under [env:native]" in result.stderr
