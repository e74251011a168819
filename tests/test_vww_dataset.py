"""`microdeploy vww-dataset` on small COCO-format files made here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import CliResult, run_cli

from microdeploy import reference
from microdeploy.build import build_project
from microdeploy.project.generate import init_project
from microdeploy.vww.dataset import DatasetError, build_dataset, label_images

# 100x100 images: 0.5% of the area is 50 square pixels.
PERSON, DOG = 1, 18
IMAGES = {
    1: ("a_person_1pct.jpg", [(PERSON, [5, 5, 10, 10])]),  # 100 px = 1%
    2: ("b_small_person.jpg", [(PERSON, [0, 0, 7, 7])]),  # 49 px < 0.5%
    3: ("c_empty.jpg", []),
    4: ("d_big_dog.jpg", [(DOG, [0, 0, 90, 90])]),
    5: ("e_two_people.jpg", [(PERSON, [0, 0, 5, 5]), (PERSON, [20, 20, 8, 8])]),  # 64 px
    6: ("f_exactly_half_pct.jpg", [(PERSON, [0, 0, 5, 10])]),  # 50 px: not *more* than 0.5%
    7: ("g_missing_file.jpg", [(PERSON, [0, 0, 50, 50])]),
}
EXPECTED_DEFAULT = {
    "a_person_1pct.jpg": "person",
    "b_small_person.jpg": "no_person",
    "c_empty.jpg": "no_person",
    "d_big_dog.jpg": "no_person",
    "e_two_people.jpg": "person",
    "f_exactly_half_pct.jpg": "no_person",
}


def _coco(tmp_path: Path) -> tuple[Path, Path]:
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    coco: dict = {
        "images": [],
        "annotations": [],
        "categories": [{"id": PERSON, "name": "person"}, {"id": DOG, "name": "dog"}],
    }
    ann_id = 100
    for image_id, (name, boxes) in IMAGES.items():
        coco["images"].append({"id": image_id, "file_name": name, "width": 100, "height": 100})
        if "missing" not in name:
            (images_dir / name).write_bytes(f"pixels of {name}".encode())
        for category, bbox in boxes:
            ann_id += 1
            coco["annotations"].append(
                {"id": ann_id, "image_id": image_id, "category_id": category, "bbox": bbox}
            )
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(coco))
    return path, images_dir


def _labels_on_disk(out: Path) -> dict[str, str]:
    return {p.name: p.parent.name for p in out.glob("*/*") if p.parent.name != out.name}


def _assert_one_line_error(result: CliResult, text: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
    assert "hint: " in result.stderr


def test_cli_splits_by_the_papers_rule_and_writes_a_manifest(tmp_path: Path) -> None:
    annotations, images = _coco(tmp_path)
    out = tmp_path / "vww"
    result = run_cli(
        "vww-dataset", "--annotations", str(annotations), "--images", str(images), "--out", str(out)
    )
    assert result.code == 0, result.stderr
    assert _labels_on_disk(out) == EXPECTED_DEFAULT
    assert "person" in result.stdout and "no_person" in result.stdout
    assert "1 annotated images not found" in result.stdout
    # Copies, byte for byte.
    assert (out / "person" / "a_person_1pct.jpg").read_bytes() == b"pixels of a_person_1pct.jpg"
    assert not (out / "person" / "a_person_1pct.jpg").is_symlink()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rule"]["fraction"] == 0.005
    assert manifest["counts"] == {"person": 2, "no_person": 4, "missing": 1}
    assert manifest["missing"] == ["g_missing_file.jpg"]
    assert manifest["small_person_only"] == 2  # b and f: people, all too small
    by_file = {e["file"]: e for e in manifest["files"]}
    assert by_file["person/e_two_people.jpg"]["largest_person_fraction"] == pytest.approx(0.0064)
    assert by_file["person/e_two_people.jpg"]["person_boxes"] == 2


def test_json_counts_and_custom_fraction(tmp_path: Path) -> None:
    annotations, images = _coco(tmp_path)
    out = tmp_path / "vww"
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(out)]
    result = run_cli("vww-dataset", *args, "--fraction", "0.0099", "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"person": 1, "no_person": 5, "missing": 1}
    assert _labels_on_disk(out)["e_two_people.jpg"] == "no_person"  # 0.64% < 0.99%
    # Running again into the same folder rebuilds it (no stale files from the first run).
    again = run_cli("vww-dataset", *args, "--json")
    assert again.code == 0, again.stderr
    assert _labels_on_disk(out) == EXPECTED_DEFAULT


def test_link_mode_symlinks_the_source_images(tmp_path: Path) -> None:
    annotations, images = _coco(tmp_path)
    out = tmp_path / "vww"
    build_dataset(annotations, images, out, link=True)
    target = out / "person" / "a_person_1pct.jpg"
    assert target.is_symlink() and target.resolve() == (images / "a_person_1pct.jpg").resolve()


def test_other_category(tmp_path: Path) -> None:
    annotations, _ = _coco(tmp_path)
    dogs = {i.file_name: i.label(0.005) for i in label_images(annotations, category="dog")}
    assert dogs["d_big_dog.jpg"] == "person"  # the foreground class, whatever it is called
    assert sum(label == "person" for label in dogs.values()) == 1


@pytest.mark.parametrize(
    "mutate, text",
    [
        (lambda a, i, o: a.unlink(), "does not exist"),
        (lambda a, i, o: a.write_text("{not json"), "not readable JSON"),
        (lambda a, i, o: a.write_text('{"images": []}'), "needs the lists"),
        (
            lambda a, i, o: a.write_text(
                json.dumps(
                    {"images": [], "annotations": [], "categories": [{"id": 3, "name": "x"}]}
                )
            ),
            "no category named 'person'",
        ),
        (lambda a, i, o: (o.mkdir(), (o / "mine.txt").write_text("x")), "not empty"),
        (lambda a, i, o: [p.unlink() for p in i.iterdir()], "none of the 7 annotated images"),
    ],
)
def test_bad_input_is_one_line_error(
    tmp_path: Path, mutate: Callable[[Path, Path, Path], object], text: str
) -> None:
    annotations, images = _coco(tmp_path)
    out = tmp_path / "vww"
    mutate(annotations, images, out)
    result = run_cli(
        "vww-dataset", "--annotations", str(annotations), "--images", str(images), "--out", str(out)
    )
    _assert_one_line_error(result, text)


def test_bad_boxes_and_fraction_are_dataset_errors(tmp_path: Path) -> None:
    annotations, _ = _coco(tmp_path)
    with pytest.raises(DatasetError, match="outside"):
        label_images(annotations, fraction=1.5)
    data = json.loads(annotations.read_text())
    data["annotations"][0]["bbox"] = [1, 2, "wide", 4]
    annotations.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="not a number"):
        label_images(annotations)


@pytest.mark.slow
def test_dataset_feeds_eval_on_the_native_device(tmp_path: Path) -> None:
    """COCO annotations -> vww-dataset -> eval: photos of another size, device == TFLM."""
    if not reference.available():
        pytest.skip("tflite-micro (the TFLM reference) is not installed")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(5)
    coco: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    for image_id in range(4):
        name = f"img{image_id}.pgm"
        pixels = rng.integers(0, 256, (120, 160), dtype=np.uint8)
        (images / name).write_bytes(b"P5 160 120 255\n" + pixels.tobytes())
        coco["images"].append({"id": image_id, "file_name": name, "width": 160, "height": 120})
        if image_id % 2:
            box = {"id": 10 + image_id, "image_id": image_id, "category_id": 1}
            coco["annotations"].append({**box, "bbox": [10, 10, 40, 60]})
    (tmp_path / "instances.json").write_text(json.dumps(coco))
    out = tmp_path / "vww"
    made = run_cli(
        "vww-dataset",
        *("--annotations", str(tmp_path / "instances.json"), "--images", str(images)),
        *("--out", str(out), "--json"),
    )
    assert made.code == 0, made.stderr
    assert json.loads(made.stdout)["counts"] == {"person": 2, "no_person": 2, "missing": 0}

    project = tmp_path / "person"
    init_project(project, "native", example="person_detection")
    build_project(project)
    result = run_cli("eval", str(project), "--dataset", str(out), "--json")
    assert result.code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["images"] == 4 and report["agree"] is True
    assert sorted(row["label"] for row in report["results"]) == [
        "no_person",
        "no_person",
        "person",
        "person",
    ]
