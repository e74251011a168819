"""`microdeploy vww-dataset`: a person / no-person image folder from COCO-format annotations.

The Visual Wake Words paper's rule (Chowdhery et al., 2019): an image is "person" when at
least one bounding box of the person category covers more than `fraction` of the image area
(0.5% by default); every other image, including those with only smaller people, is
"no_person". Boxes are COCO's `bbox` [x, y, width, height] in pixels.

The output folder gets `person/` and `no_person/` (images copied, or symlinked with
`link=True`) and `manifest.json` with the rule, the counts and one entry per image.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from microdeploy.errors import MicrodeployError

DEFAULT_FRACTION = 0.005
LABELS = ("no_person", "person")
MANIFEST = "manifest.json"
_FORMAT = "microdeploy-vww-dataset-1"


class DatasetError(MicrodeployError):
    """Annotations, image folder or output folder that cannot be used."""


@dataclass(frozen=True)
class ImageLabel:
    image_id: int | str
    file_name: str
    width: int
    height: int
    largest_fraction: float  # largest person box area / image area (0 without a person)
    person_boxes: int  # person boxes of any size

    def label(self, fraction: float) -> str:
        return LABELS[int(self.largest_fraction > fraction)]


@dataclass
class DatasetReport:
    out: Path
    fraction: float
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    missing: list[str] = field(default_factory=list)  # annotated images not in --images
    small_person_only: int = 0  # images with people, all below the fraction: no_person

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _fail(path: Path, what: str) -> DatasetError:
    return DatasetError(
        f"{path}: {what}",
        "give a COCO instances file (images, annotations, categories), e.g. "
        "annotations/instances_val2017.json",
    )


def _number(value: object, path: Path, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"{what} is {value!r}, not a number")
    return float(value)


def label_images(
    annotations: Path, category: str = "person", fraction: float = DEFAULT_FRACTION
) -> list[ImageLabel]:
    """Every image of the annotation file with its largest `category` box fraction."""
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(
            f"fraction {fraction} is outside [0, 1)", "the paper uses 0.005 (0.5% of the image)"
        )
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"annotation file {annotations} does not exist", "check --annotations"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(annotations, f"not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations", "categories")
    ):
        raise _fail(annotations, "needs the lists 'images', 'annotations' and 'categories'")
    wanted = {
        c.get("id") for c in data["categories"] if isinstance(c, dict) and c.get("name") == category
    }
    if not wanted:
        names = sorted(str(c.get("name")) for c in data["categories"] if isinstance(c, dict))
        raise _fail(annotations, f"no category named '{category}' (has: {', '.join(names)})")

    images: dict[object, dict] = {}
    for entry in data["images"]:
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            raise _fail(annotations, f"image entry {entry!r} lacks 'id' or 'file_name'")
        images[entry["id"]] = entry
    largest: dict[object, float] = dict.fromkeys(images, 0.0)
    boxes: dict[object, int] = dict.fromkeys(images, 0)
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or ann.get("category_id") not in wanted:
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            raise _fail(
                annotations, f"annotation {ann.get('id')} names unknown image {ann.get('image_id')}"
            )
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise _fail(
                annotations, f"annotation {ann.get('id')} has bbox {bbox!r}, not [x, y, w, h]"
            )
        width = _number(image.get("width"), annotations, f"image {image['id']} width")
        height = _number(image.get("height"), annotations, f"image {image['id']} height")
        if width <= 0 or height <= 0:
            raise _fail(annotations, f"image {image['id']} is {width}x{height}")
        box_w = _number(bbox[2], annotations, f"annotation {ann.get('id')} box width")
        box_h = _number(bbox[3], annotations, f"annotation {ann.get('id')} box height")
        share = max(box_w, 0.0) * max(box_h, 0.0) / (width * height)
        largest[image["id"]] = max(largest[image["id"]], share)
        boxes[image["id"]] += 1
    return [
        ImageLabel(
            image["id"],
            str(image["file_name"]),
            int(image.get("width") or 0),
            int(image.get("height") or 0),
            largest[key],
            boxes[key],
        )
        for key, image in sorted(images.items(), key=lambda kv: str(kv[1]["file_name"]))
    ]


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder", "choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise DatasetError(
            f"{out} is not empty and was not made by vww-dataset",
            "choose an empty or new --out folder",
        )
    for label in LABELS:
        folder = out / label
        if folder.is_dir():
            shutil.rmtree(folder)  # a previous run's output: rebuilt from scratch
        folder.mkdir(parents=True)


def build_dataset(
    annotations: Path,
    images: Path,
    out: Path,
    fraction: float = DEFAULT_FRACTION,
    category: str = "person",
    link: bool = False,
    on_image: Callable[[int, int], None] | None = None,
) -> DatasetReport:
    """Labels every annotated image, copies (or links) it into out/<label>/, writes the
    manifest. `on_image(done, total)` reports progress."""
    labelled = label_images(annotations, category, fraction)
    if not images.is_dir():
        raise DatasetError(f"image folder {images} does not exist", "check --images")
    _prepare_out(out)
    report = DatasetReport(out, fraction)
    entries = []
    for done, item in enumerate(labelled, start=1):
        source = images / item.file_name
        label = item.label(fraction)
        if not source.is_file():
            report.missing.append(item.file_name)
        else:
            target = out / label / Path(item.file_name).name
            if link:
                os.symlink(source.resolve(), target)
            else:
                shutil.copyfile(source, target)
            report.counts[label] += 1
            if label == "no_person" and item.person_boxes:
                report.small_person_only += 1
            entries.append(
                {
                    "file": f"{label}/{target.name}",
                    "label": label,
                    "image_id": item.image_id,
                    "width": item.width,
                    "height": item.height,
                    "largest_person_fraction": round(item.largest_fraction, 6),
                    "person_boxes": item.person_boxes,
                }
            )
        if on_image is not None:
            on_image(done, len(labelled))
    if labelled and not entries:
        raise DatasetError(
            f"none of the {len(labelled)} annotated images is in {images}",
            "--images must be the folder holding the annotation file's file_name entries",
        )
    manifest = {
        "format": _FORMAT,
        "rule": {
            "category": category,
            "fraction": fraction,
            "text": f"person when a '{category}' box covers more than {fraction:.2%} of the image",
        },
        "annotations": str(annotations),
        "images": str(images),
        "counts": {**report.counts, "missing": len(report.missing)},
        "small_person_only": report.small_person_only,
        "files": entries,
        "missing": report.missing,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report
