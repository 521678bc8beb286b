from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import deepfit
from deepfit.cli import main
from deepfit.config import load_config
from deepfit.data.image import decode as images
from deepfit.data.pipeline import prepare, resolve_kind
from deepfit.errors import DataError
from tests.data.shapes import write_shapes


def folder_config(folder: Path, *, clean: dict | None = None, **image: object) -> dict:
    data = {"source": str(folder), "image": {"cache": False, **image}}
    return {"data": {**data, "clean": clean} if clean else data}


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    write_shapes(tmp_path / "shapes", per_class=6, size=12)
    return tmp_path / "shapes"


def test_folder_source_gives_classes_from_sub_folders_and_the_most_common_size(shapes: Path) -> None:
    Image.new("RGB", (20, 30), (200, 10, 10)).save(shapes / "circle" / "big.png")  # resized to 12x12
    prepared = prepare(load_config(folder_config(shapes)))
    assert prepared.spec.kind == "image"
    assert prepared.spec.input_shape == [3, 12, 12]
    assert prepared.spec.class_names == ["circle", "square", "triangle"]
    assert prepared.report["rows_in"] == prepared.report["rows_out"] == 19
    assert sum(prepared.report["splits"].values()) == 19
    x = prepared.tensors["train"].inputs[0]
    assert x.dtype.is_floating_point and tuple(x.shape[1:]) == (3, 12, 12)
    assert prepared.report["images"]["sizes_seen"] == {"12x12": 18, "30x20": 1}
    # stratified: every class in every split
    for frame in prepared.frames.values():
        assert set(frame["label"]) == {"circle", "square", "triangle"}


def test_mode_is_grayscale_unless_some_image_is_in_colour(tmp_path: Path) -> None:
    write_shapes(tmp_path / "gray", per_class=4, size=10, mode="L")
    assert prepare(load_config(folder_config(tmp_path / "gray"))).spec.input_shape == [1, 10, 10]
    Image.new("RGB", (10, 10), (0, 200, 0)).save(tmp_path / "gray" / "square" / "green.png")
    assert prepare(load_config(folder_config(tmp_path / "gray"))).spec.input_shape == [3, 10, 10]
    config = folder_config(tmp_path / "gray", mode="grayscale", size=[6, 8])
    assert prepare(load_config(config)).spec.input_shape == [1, 6, 8]


def test_csv_source_with_paths_relative_to_the_csv(shapes: Path, tmp_path: Path) -> None:
    files = sorted(shapes.rglob("*.png"))
    table = pd.DataFrame(
        {"file": [str(f.relative_to(tmp_path)) for f in files], "shape": [f.parent.name for f in files]}
    )
    (tmp_path / "lists").mkdir()
    table["file"] = "../" + table["file"]
    table.to_csv(tmp_path / "lists" / "labels.csv", index=False)
    config = {
        "data": {
            "source": "lists/labels.csv",
            "target": "shape",
            "image": {"path_column": "file", "cache": False},  # the image section makes data.kind auto an image
        }
    }
    cfg = load_config(config)
    cfg._base_dir = tmp_path
    assert resolve_kind(cfg) == "image"
    prepared = prepare(cfg)
    assert prepared.spec.class_names == ["circle", "square", "triangle"]
    assert prepared.report["rows_out"] == 18
    assert "file" in prepared.frames["train"].columns


def test_auto_detects_a_csv_of_image_paths_and_leaves_tables_alone(shapes: Path, tmp_path: Path) -> None:
    files = sorted(shapes.rglob("*.png"))
    pd.DataFrame({"path": [str(f) for f in files], "label": [f.parent.name for f in files]}).to_csv(
        tmp_path / "images.csv", index=False
    )
    pd.DataFrame({"path": ["a", "b"], "label": [0, 1]}).to_csv(tmp_path / "table.csv", index=False)
    assert resolve_kind(load_config({"data": {"source": str(tmp_path / "images.csv")}})) == "image"
    table = load_config({"data": {"source": str(tmp_path / "table.csv")}})
    assert resolve_kind(table) == "tabular"
    assert resolve_kind(load_config(table)) == "tabular"  # a config re-loaded with every section written out


def test_csv_with_a_numeric_target_is_image_regression(shapes: Path, tmp_path: Path) -> None:
    files = sorted(shapes.rglob("*.png"))
    brightness = [float(np.asarray(Image.open(f)).mean()) for f in files]
    pd.DataFrame({"path": [str(f) for f in files], "brightness": brightness}).to_csv(tmp_path / "b.csv", index=False)
    prepared = prepare(
        load_config({"data": {"source": str(tmp_path / "b.csv"), "kind": "image", "target": "brightness"}})
    )
    assert prepared.spec.task == "regression" and prepared.spec.n_outputs == 1
    assert prepared.tensors["train"].target.dtype.is_floating_point


def test_a_corrupt_image_is_named_in_the_report_and_skipped(shapes: Path) -> None:
    (shapes / "square" / "broken.png").write_bytes(b"this is not a png at all")
    prepared = prepare(load_config(folder_config(shapes)))
    unreadable = prepared.report["images"]["unreadable"]
    assert [Path(u["path"]).name for u in unreadable] == ["broken.png"]
    assert "not a readable image" in unreadable[0]["reason"]
    assert prepared.report["rows_in"] == 19 and prepared.report["rows_out"] == 18
    assert any("skipped 1 unreadable image(s)" in line and "broken.png" in line for line in prepared.report["notes"])


def test_a_corrupt_image_stops_the_run_when_on_error_is_error(shapes: Path) -> None:
    (shapes / "square" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError) as info:
        prepare(load_config(folder_config(shapes, on_error="error")))
    assert f"{shapes / 'square' / 'broken.png'} (not a readable image" in str(info.value)
    assert "data.image.on_error: skip" in str(info.value)


def test_an_empty_class_folder_is_an_error_naming_it(shapes: Path) -> None:
    (shapes / "hexagon").mkdir()
    (shapes / "hexagon" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=f"class folder {shapes / 'hexagon'} holds no images"):
        prepare(load_config(folder_config(shapes)))


def test_a_folder_without_class_sub_folders_says_what_is_expected(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    with pytest.raises(DataError) as info:
        prepare(load_config(folder_config(tmp_path)))
    message = str(info.value)
    assert f"{tmp_path} has no class sub-folders (3 images lie directly in it)" in message
    assert f"{tmp_path}/<class name>/<image>.png" in message


def test_normalisation_statistics_come_from_the_training_split_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("dark", "light"):
        (tmp_path / "d" / label).mkdir(parents=True)
        for i in range(10):  # every image has its own brightness, so each split has its own mean
            level = int(rng.integers(0, 120)) + (120 if label == "light" else 0)
            Image.new("L", (4, 4), level).save(tmp_path / "d" / label / f"{i}.png")
    prepared = prepare(load_config(folder_config(tmp_path / "d")))
    train = np.stack([np.asarray(Image.open(p)) for p in prepared.frames["train"]["path"]]) / 255
    everything = np.stack([np.asarray(Image.open(p)) for p in sorted((tmp_path / "d").rglob("*.png"))]) / 255
    state = prepared.preprocessor.state
    assert state["mean"] == pytest.approx([train.mean()])
    assert state["std"] == pytest.approx([train.std()])
    assert abs(train.mean() - everything.mean()) > 1e-3  # the check above could tell them apart
    x = prepared.tensors["train"].inputs[0]
    assert float(x.mean()) == pytest.approx(0, abs=1e-5) and float(x.std(unbiased=False)) == pytest.approx(1, abs=1e-4)


def test_duplicate_images_are_removed_and_conflicting_labels_reported(shapes: Path) -> None:
    shutil.copy(shapes / "circle" / "000.png", shapes / "circle" / "copy.png")
    shutil.copy(shapes / "square" / "000.png", shapes / "triangle" / "mislabelled.png")
    report = prepare(load_config(folder_config(shapes))).report
    assert report["duplicate_rows"] == 1
    assert report["images"]["duplicate_examples"] == [
        f"{shapes / 'circle' / 'copy.png'} = {shapes / 'circle' / '000.png'}"
    ]
    conflicts = report["conflicts"]
    assert (conflicts["groups"], conflicts["rows"], conflicts["rows_removed"]) == (1, 2, 1)  # majority: a tie keeps one
    assert any("different labels" in line and "mislabelled.png (triangle)" in line for line in report["notes"])

    kept = prepare(load_config(folder_config(shapes, clean={"drop_duplicates": False, "conflicts": "keep"}))).report
    assert kept["duplicate_rows"] == 0 and kept["rows_out"] == 20


def test_builtin_digits_as_8x8_grayscale_images() -> None:
    prepared = prepare(load_config({"data": {"source": "builtin:digits", "kind": "image"}}))
    assert prepared.spec.input_shape == [1, 8, 8]
    assert prepared.spec.class_names == list(range(10))
    assert prepared.report["rows_in"] == 1797
    _, pixels = images.builtin_digits()
    assert pixels.dtype == np.uint8 and pixels.max() == 255 and pixels.shape == (1797, 1, 8, 8)


def test_decoded_images_are_cached_on_disk_and_the_cache_follows_file_changes(
    shapes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = folder_config(shapes, cache=True, cache_dir=str(tmp_path / "cache"))
    first = prepare(load_config(config))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(images, "_decode", no_decoding)
    second = prepare(load_config(config))
    assert (first.tensors["train"].inputs[0] == second.tensors["train"].inputs[0]).all()

    monkeypatch.undo()
    Image.new("RGB", (12, 12), (250, 250, 250)).save(shapes / "circle" / "000.png")  # changed: decoded again
    prepare(load_config(config))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_predict_on_a_raw_folder_returns_class_names_with_paths_and_names_unreadable_files(
    shapes: Path, tmp_path: Path
) -> None:
    config = {
        **folder_config(shapes),
        "model": {"name": "cnn", "channels": [4, 8], "blocks": 1},
        "train": {"epochs": 2, "diagnostics": {"enabled": False}},
    }
    run = deepfit.train(config, run_dir=tmp_path / "run").run_dir
    new = tmp_path / "new"
    write_shapes(new / "unsorted", per_class=1, size=20, seed=5)  # class sub-folders are allowed and ignored
    (new / "loose.png").write_bytes((shapes / "circle" / "001.png").read_bytes())

    predictions = deepfit.predict(run, new)
    assert list(predictions.columns) == ["path", "prediction", "proba_circle", "proba_square", "proba_triangle"]
    assert sorted(predictions["path"]) == sorted(str(p) for p in new.rglob("*.png"))
    assert set(predictions["prediction"]) <= {"circle", "square", "triangle"}
    assert np.allclose(predictions.filter(like="proba_").sum(axis=1), 1)

    array = np.stack([np.asarray(Image.open(p)) for p in sorted(shapes.rglob("*.png"))[:3]])  # N x H x W x C
    assert len(deepfit.load(run).predict(array)) == 3

    assert main(["predict", str(run), str(new), "-o", str(tmp_path / "out.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "out.csv").columns)[:2] == ["path", "prediction"]

    metrics = deepfit.evaluate(run, shapes)["data"]  # a labelled folder: labels from the sub-folders
    assert 0 <= metrics["accuracy"] <= 1 and metrics["class_names"] == ["circle", "square", "triangle"]

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(DataError, match=r"bad.jpg \(not a readable image"):
        deepfit.predict(run, pd.DataFrame({"path": [str(shapes / "circle" / "000.png"), str(bad)]}))


def test_a_photo_taken_sideways_is_decoded_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90° to display
    Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / "photo.jpg", exif=exif)
    decoded = images.decode_files([str(tmp_path / "photo.jpg")])
    assert decoded.size == (20, 10) and decoded.pixels.shape == (1, 3, 20, 10)  # (height, width) upright
