"""`inspect --board` after `build`: the linker's figures of a recorded build replace the estimates,
and a record that does not describe the firmware in question (other model, project changed,
board definition or runtime sources changed since) is never used."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pytest
from cli_helpers import run_cli

from microdeploy import build_records, paths
from microdeploy.boards import get_board
from microdeploy.model.writer import ModelBuilder
from microdeploy.project.generate import init_project

BOARD = "mps2-an386"


def _fc_model(path: Path, depth: int = 8, units: int = 4) -> Path:
    """A one-op int8 model whose bytes (description) are new on every call: no build of it can
    have been recorded by an earlier test or run."""
    b = ModelBuilder()
    b.description = f"inspect-build test {uuid.uuid4()}"
    x = b.add_tensor([1, depth], "int8", scale=0.5)
    weights = [(i * 7) % 31 - 15 for i in range(units * depth)]
    w = b.add_tensor([units, depth], "int8", data=weights, scale=0.05)
    y = b.add_tensor([1, units], "int8", scale=0.5)
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    b.set_io([x], [y])
    path.write_bytes(b.build())
    return path


def _inspect(*args: str) -> dict:
    result = run_cli("inspect", *args, "--json")
    assert result.code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_inspect_shows_the_build_linker_figures_and_drops_stale_ones(tmp_path: Path) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    model = _fc_model(tmp_path / "a.tflite")
    before = _inspect(str(model), "--board", BOARD)
    assert before["fit_source"] == "estimate" and before["build"] is None
    assert "no build of this model" in before["fit_note"]

    project = tmp_path / "proj"
    init_project(project, BOARD, model=model)
    assert _inspect(str(project))["fit_source"] == "estimate"  # initialised, not built

    built = run_cli("build", str(project), "--json")
    assert built.code == 0, built.stdout + built.stderr
    size = json.loads(built.stdout)

    for args in ((str(project),), (str(model), "--board", BOARD)):
        after = _inspect(*args)
        assert after["fit_source"] == "linker", args
        assert (after["flash_needed"], after["ram_needed"]) == (
            size["flash_bytes"],
            size["ram_bytes"],
        )
        assert after["flash_margin"] == size["flash_budget"] - size["flash_bytes"]
        assert after["ram_margin"] == size["ram_budget"] - size["ram_bytes"]
        assert after["build"]["project"] == str(project.resolve())
        assert after["build"]["firmware"] == size["firmware"]
        assert (after["build"]["text"], after["build"]["bss"]) == (size["text"], size["bss"])
        assert after["arena_bytes"] == before["arena_bytes"]  # the plan does not change
    table = run_cli("inspect", str(project), env={"COLUMNS": "200"})
    assert f"linker figures from the build of {project.resolve()}" in table.stdout
    assert "estimate" not in table.stdout.split("board ")[-1]

    # Another board: no build of it, estimates again.
    assert _inspect(str(model), "--board", "mps2-an385")["fit_source"] == "estimate"

    # The project now holds another model and was not rebuilt: its old figures are stale.
    other = _fc_model(tmp_path / "b.tflite")
    init_project(project, BOARD, model=other)
    stale = _inspect(str(project))
    assert stale["fit_source"] == "estimate" and "current files" in stale["fit_note"]
    assert _inspect(str(other), "--board", BOARD)["fit_source"] == "estimate"
    # ... while the firmware built from the first model keeps its figures.
    assert _inspect(str(model), "--board", BOARD)["flash_needed"] == size["flash_bytes"]


@pytest.mark.slow
def test_an_estimate_from_another_model_build_predicts_the_real_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a build of one FULLY_CONNECTED model recorded on the board, the estimate for another
    (bigger) FULLY_CONNECTED model reuses that build's measured runtime, kernel and stack; then
    building the second model shows how close it was. Own cache: no other build is the basis."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    monkeypatch.setenv("MICRODEPLOY_CACHE", str(tmp_path / "cache"))
    first = tmp_path / "first"
    init_project(first, BOARD, model=_fc_model(tmp_path / "a.tflite"))
    assert run_cli("build", str(first)).code == 0

    model = _fc_model(tmp_path / "c.tflite", depth=96, units=40)
    guess = _inspect(str(model), "--board", BOARD)
    assert guess["fit_source"] == "estimate"
    basis = guess["estimate_basis"]
    assert basis["build"]["project"] == str(first.resolve())
    assert (basis["kernels_measured"], basis["kernels_guessed"]) == (["FULLY_CONNECTED"], [])

    second = tmp_path / "second"
    init_project(second, BOARD, model=model)
    built = run_cli("build", str(second), "--json")
    assert built.code == 0, built.stderr
    real = json.loads(built.stdout)
    # Flash: same runtime, app and kernel; only the model differs (alignment fill aside).
    assert abs(guess["flash_needed"] - real["flash_bytes"]) <= 16
    # RAM: the estimate counts the arena the runtime plans; `init` compiles in a margin more.
    compiled_arena = json.loads((second / "microdeploy.json").read_text())["arena_bytes"]
    extra = compiled_arena - guess["arena_bytes"]
    assert extra > 0
    assert abs(guess["ram_needed"] + extra - real["ram_bytes"]) <= 16


# Library-level checks of the records themselves, on a hand-made project (no build needed).


def _fake_project(root: Path) -> tuple[Path, dict]:
    """A project folder with the files a manifest names: one vendored runtime file (a copy of
    runtime_cpp's), one generated file and main.cpp."""
    project = root / "proj"
    rel = "md/status.h"
    vendored = f"{build_records.RUNTIME_LIB_SRC}{rel}"
    (project / vendored).parent.mkdir(parents=True)
    shutil.copyfile(paths.runtime_dir() / "src" / rel, project / vendored)
    (project / "src").mkdir()
    (project / "src" / "md_config.h").write_text("#define MD_ARENA_BYTES 4096\n")
    (project / "src" / "main.cpp").write_text("int main() { return 0; }\n")
    digest = hashlib.sha256(b"a model").hexdigest()
    manifest = {
        "board": BOARD,
        "model": {"sha256": digest, "file": "model/model.tflite"},
        "arena_bytes": 4096,
        "generated": {"src/md_config.h": ""},
        "vendored": {vendored: ""},
        "user_files": ["src/main.cpp"],
    }
    return project, manifest


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MICRODEPLOY_CACHE", str(cache))
    return cache


def test_a_record_is_found_by_model_and_by_project(tmp_path: Path, own_cache: Path) -> None:
    project, manifest = _fake_project(tmp_path)
    board = get_board(BOARD)
    sha = manifest["model"]["sha256"]
    assert build_records.for_model(sha, board)[0] is None
    record = build_records.record_build(project, manifest, board, project / "fw.elf", 1000, 20, 300)
    assert record is not None and (record.flash_bytes, record.ram_bytes) == (1020, 320)
    assert build_records.for_model(sha, board)[0] == record
    assert build_records.for_project(project, manifest, board)[0] == record
    assert build_records.for_model(sha, get_board("mps2-an385"))[0] is None
    assert build_records.for_model(hashlib.sha256(b"other").hexdigest(), board)[0] is None


def test_a_project_edited_since_its_build_has_no_record(tmp_path: Path, own_cache: Path) -> None:
    project, manifest = _fake_project(tmp_path)
    board = get_board(BOARD)
    build_records.record_build(project, manifest, board, project / "fw.elf", 1000, 20, 300)
    (project / "src" / "main.cpp").write_text("int main() { return 1; }\n")
    record, why = build_records.for_project(project, manifest, board)
    assert record is None and "current files" in why
    (project / "src" / "main.cpp").write_text("int main() { return 0; }\n")  # as built again
    assert build_records.for_project(project, manifest, board)[0] is not None


def test_a_record_older_than_the_runtime_or_board_is_not_used(
    tmp_path: Path, own_cache: Path
) -> None:
    project, manifest = _fake_project(tmp_path)
    board = get_board(BOARD)
    sha = manifest["model"]["sha256"]
    vendored = project / next(iter(manifest["vendored"]))
    vendored.write_text(vendored.read_text() + "// an older runtime\n")
    build_records.record_build(project, manifest, board, project / "fw.elf", 1000, 20, 300)
    record, why = build_records.for_model(sha, board)
    assert record is None and "predate" in why

    project2, manifest2 = _fake_project(tmp_path / "second")
    build_records.record_build(project2, manifest2, board, project2 / "fw.elf", 1000, 20, 300)
    assert build_records.for_model(sha, board)[0] is not None
    bigger = dataclasses.replace(board, ram_bytes=(board.ram_bytes or 0) * 2)
    record, why = build_records.for_model(sha, bigger)
    assert record is None and "predate" in why


def test_unreadable_records_are_ignored(tmp_path: Path, own_cache: Path) -> None:
    project, manifest = _fake_project(tmp_path)
    board = get_board(BOARD)
    sha = manifest["model"]["sha256"]
    folder = build_records.records_dir() / sha
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{ not json")
    (folder / "other.json").write_text(json.dumps({"format": 99, "board": BOARD}))
    assert build_records.for_model(sha, board)[0] is None
    build_records.record_build(project, manifest, board, project / "fw.elf", 1000, 20, 300)
    assert build_records.for_model(sha, board)[0] is not None


def test_a_build_with_another_tiling_policy_is_another_firmware(
    tmp_path: Path, own_cache: Path
) -> None:
    project, manifest = _fake_project(tmp_path)
    manifest["tiling"] = "on"
    board = get_board(BOARD)
    sha = manifest["model"]["sha256"]
    build_records.record_build(project, manifest, board, project / "fw.elf", 1000, 20, 300)
    record, why = build_records.for_model(sha, board)  # inspect's default policy: auto
    assert record is None and "no build" in why
    assert build_records.for_model(sha, board, "on")[0] is not None


def test_inspect_of_a_project_without_its_model_is_one_clear_error(tmp_path: Path) -> None:
    project, manifest = _fake_project(tmp_path)  # the manifest names model/model.tflite: absent
    (project / "microdeploy.json").write_text(json.dumps(manifest))
    result = run_cli("inspect", str(project))
    assert result.code != 0 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "no model file" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("hint:")
