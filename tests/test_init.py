"""`microdeploy init`: what it generates, what it vendors, and whose files it leaves alone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy import paths
from microdeploy.boards import get_board
from microdeploy.errors import ModelError, ProjectError
from microdeploy.model.writer import ModelBuilder
from microdeploy.project.generate import init_project

EXAMPLE_MODEL = paths.examples_dir() / "hello_world" / "model.tflite"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add_model(tmp_path: Path) -> Path:
    """A one-op int8 ADD model written with our ModelBuilder."""
    b = ModelBuilder()
    x = b.add_tensor([1, 8], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor([1, 8], "int8", scale=0.1, zero_point=0)
    z = b.add_tensor([1, 8], "int8", scale=0.2, zero_point=1)
    b.add_operator("ADD", [x, y], [z], {"fused_activation_function": "NONE"})
    b.set_io([x, y], [z])
    path = tmp_path / "add.tflite"
    path.write_bytes(b.build())
    return path


@pytest.mark.parametrize("board", ["native", "mps2-an386"])
def test_init_generates_a_platformio_project(tmp_path: Path, board: str) -> None:
    project = tmp_path / "proj"
    result = run_cli("init", str(project), "--board", board, "--example", "hello_world")
    assert result.code == 0, result.stderr
    manifest = json.loads((project / "microdeploy.json").read_text())
    assert manifest["board"] == board
    assert manifest["model"]["sha256"] == _sha(EXAMPLE_MODEL)
    assert manifest["model"]["ops"] == ["FULLY_CONNECTED"]
    version = (paths.runtime_dir() / "VERSION").read_text().strip()
    assert manifest["runtime_version"] == version
    # Every listed file exists with the recorded hash.
    for section in ("generated", "vendored"):
        for rel, digest in manifest[section].items():
            assert _sha(project / rel) == digest, rel
    vendored = set(manifest["vendored"])
    lib = "lib/md_runtime/src/md/"
    assert lib + "kernels/fully_connected.cc" in vendored
    assert lib + "interpreter.h" in vendored
    # Only this model's kernels and this board's port.
    assert not any(
        p.startswith(lib + "kernels/")
        and p.endswith(".cc")
        and not p.endswith("fully_connected.cc")
        for p in vendored
    )
    port = "native" if board == "native" else "mps2"
    assert {p.split("/")[5] for p in vendored if p.startswith(lib + "ports/")} == {port}
    # The model is a 16-byte aligned const array in its own source.
    model_cpp = (project / "src/model_data.cpp").read_text()
    assert "alignas(16) const uint8_t g_model_data[]" in model_cpp
    assert f"g_model_data_size = {EXAMPLE_MODEL.stat().st_size};" in model_cpp
    assert "Register_FULLY_CONNECTED" in (project / "src/md_model_ops.cpp").read_text()
    ini = (project / "platformio.ini").read_text()
    assert f"[env:{board}]" in ini and "symlink://" in ini and "core_dir" in ini
    assert (project / "src/main.cpp").is_file()
    if board == "mps2-an386":
        board_json = json.loads((project / "boards/mps2-an386.json").read_text())
        assert board_json["upload"]["maximum_size"] == 1048576
        assert board_json["upload"]["maximum_ram_size"] == 262144


def test_second_init_keeps_user_edits_and_refreshes_generated_files(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    main_cpp = project / "src/main.cpp"
    edited = main_cpp.read_text() + "\n// my own change\n"
    main_cpp.write_text(edited)
    (project / "notes.txt").write_text("mine")
    (project / "src/model_data.cpp").write_text("// clobbered\n")
    vendored_header = project / "lib/md_runtime/src/md/interpreter.h"
    vendored_header.write_text("// clobbered\n")

    result = init_project(project, "native", example="hello_world")

    assert result.refreshed
    assert "src/main.cpp" in result.user_kept
    assert main_cpp.read_text() == edited
    assert (project / "notes.txt").read_text() == "mine"
    assert "g_model_data" in (project / "src/model_data.cpp").read_text()
    assert (
        vendored_header.read_bytes() == (paths.runtime_dir() / "src/md/interpreter.h").read_bytes()
    )


def test_force_overwrites_user_files(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    main_cpp = project / "src/main.cpp"
    main_cpp.write_text("// my own change\n")
    result = run_cli(
        "init", str(project), "--board", "native", "--example", "hello_world", "--force"
    )
    assert result.code == 0, result.stderr
    assert main_cpp.read_text() != "// my own change\n"
    assert "md::port::Init()" in main_cpp.read_text()


def test_refuses_a_non_empty_folder_that_is_not_a_project(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "thesis.tex").write_text("precious")
    result = run_cli("init", str(project), "--board", "native", "--example", "hello_world")
    assert result.code == 1
    assert result.stderr.startswith("error: ") and "not a microdeploy project" in result.stderr
    assert "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["thesis.tex"]


def test_changing_the_model_removes_kernels_it_no_longer_needs(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    kernels = project / "lib/md_runtime/src/md/kernels"
    init_project(project, "native", example="hello_world")
    assert (kernels / "fully_connected.cc").is_file()
    result = init_project(project, "native", model=_add_model(tmp_path))
    assert (kernels / "add.cc").is_file()
    assert not (kernels / "fully_connected.cc").exists()
    assert "lib/md_runtime/src/md/kernels/fully_connected.cc" in result.removed
    assert "Register_ADD" in (project / "src/md_model_ops.cpp").read_text()


def test_op_without_kernel_is_named(tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.add_tensor([1, 4], "float32")
    y = b.add_tensor([1, 4], "float32")
    b.add_operator("FLOOR", [x], [y])
    b.set_io([x], [y])
    model = tmp_path / "floor.tflite"
    model.write_bytes(b.build())
    with pytest.raises(ModelError, match="FLOOR"):
        init_project(tmp_path / "proj", "native", model=model)


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    not_a_model = tmp_path / "model.tflite"
    not_a_model.write_bytes(b"hello, I am not a flatbuffer")
    cases = [
        (["--board", "native", "--model", str(not_a_model)], "model.tflite"),
        (["--board", "native", "--model", str(tmp_path / "missing.tflite")], "does not exist"),
        (["--board", "native", "--example", "nope"], "unknown example"),
        (["--board", "nope", "--example", "hello_world"], "unknown board"),
        (["--board", "native"], "--model"),
    ]
    for args, needle in cases:
        result = run_cli("init", str(tmp_path / "proj"), *args)
        assert result.code == 1, (args, result.stderr)
        assert result.stderr.startswith("error: "), result.stderr
        assert needle in result.stderr
        assert "Traceback" not in result.stderr


def test_arena_override_lands_in_the_config(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    with pytest.raises(ProjectError):
        init_project(project, "native")  # neither --model nor --example
    init_project(project, "native", example="hello_world", arena_bytes=5000)
    assert "#define MD_ARENA_BYTES 5008" in (project / "src/md_config.h").read_text()


def _load_ini(folder: Path, text: str):
    from platformio.project.config import ProjectConfig

    folder.mkdir()
    (folder / "platformio.ini").write_text(text)
    (folder / "platformio_user.ini").write_text("")
    config = ProjectConfig(str(folder / "platformio.ini"))
    assert config.validate()
    return config


def test_own_platform_ini_is_valid_platformio(tmp_path: Path) -> None:
    from microdeploy.pio import core as pio_core
    from microdeploy.project.generate import platformio_ini

    config = _load_ini(tmp_path / "p", platformio_ini(get_board("mps2-an386")))
    assert config.envs() == ["mps2-an386"]
    assert config.get("platformio", "core_dir") == str(pio_core.core_dir())
    assert config.get("env:mps2-an386", "platform").startswith("symlink://")
    assert config.get("env:mps2-an386", "board") == "mps2-an386"


def test_official_platform_ini_for_users_with_internet(tmp_path: Path) -> None:
    """A board on a vendor platform gets the plain PlatformIO environment (no core_dir of ours,
    no symlink), with its framework, upload protocol and extra settings."""
    from microdeploy.boards import PlatformIOSettings, UploadSettings
    from microdeploy.project.generate import platformio_ini

    board = dataclasses.replace(
        get_board("mps2-an386"),
        name="nano33ble",
        platformio=PlatformIOSettings(
            "nordicnrf52", "nano33ble", "arduino", (("lib_ldf_mode", "deep+"),)
        ),
        memory=None,
        qemu=None,
        upload=UploadSettings("sam-ba", None),
    )
    text = platformio_ini(board)
    config = _load_ini(tmp_path / "p", text)
    env = "env:nano33ble"
    assert config.get(env, "platform") == "nordicnrf52"
    assert config.get(env, "board") == "nano33ble"
    assert config.get(env, "framework") == ["arduino"]
    assert config.get(env, "upload_protocol") == "sam-ba"
    assert config.get(env, "lib_ldf_mode") == "deep+"
    assert "core_dir" not in text and "symlink://" not in text


def test_refresh_never_deletes_outside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    init_project(project, "native", example="hello_world")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    manifest_path = project / "microdeploy.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["generated"]["../precious.txt"] = "0" * 64  # a tampered manifest
    manifest_path.write_text(json.dumps(manifest))
    result = init_project(project, "native", example="hello_world")
    assert outside.read_text() == "keep me"
    assert "../precious.txt" not in result.removed
