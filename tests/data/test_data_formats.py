"""COCO-JSON and VOC-XML: round trips, a clear error for every kind of bad file (naming the
file and the field), XML entity declarations refused, atomic writes, pycocotools agreement."""
import copy
import json
import os

import numpy as np
import pytest

from tinyvision.data import (CocoDetection, ShapesScenes, VOCDetection, write_coco,
                             write_voc)
from tinyvision.data import _io, rle


@pytest.fixture(scope="module")
def scenes():
    return ShapesScenes("val", n=4, image_size=48)


@pytest.fixture()
def coco_dir(tmp_path, scenes):
    write_coco(str(tmp_path / "ann.json"), scenes, scenes.CLASSES, image_root=str(tmp_path / "img"))
    return tmp_path


def same_item(a, b, keys):
    assert np.abs(a[0] - b[0]).max() <= 0.5 / 255 + 1e-6          # 8-bit PNG rounding
    for key in keys:
        np.testing.assert_array_equal(np.asarray(a[1][key]), np.asarray(b[1][key]), err_msg=key)


# ---- COCO ----------------------------------------------------------------------------------

def test_coco_round_trip(coco_dir, scenes):
    ds = CocoDetection(str(coco_dir / "img"), str(coco_dir / "ann.json"))
    assert len(ds) == 4 and ds.categories == dict(enumerate(scenes.CLASSES, 1)) and ds.masks
    for i in range(4):
        same_item(scenes[i], ds[i], ("boxes", "labels", "masks", "semantic", "image_id"))
    assert ds[0][1]["area"][0] == scenes[0][1]["masks"][0].sum()
    no_masks = CocoDetection(str(coco_dir / "img"), str(coco_dir / "ann.json"), masks=False)
    assert "masks" not in no_masks[0][1]


def test_coco_polygons_and_plain_rle(tmp_path):
    from PIL import Image
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "a.png")
    square = np.zeros((10, 12), np.uint8)
    square[2:6, 3:9] = 1
    data = {"images": [{"id": 5, "file_name": "a.png", "width": 12, "height": 10}],
            "categories": [{"id": 3, "name": "thing"}],
            "annotations": [
                {"id": 1, "image_id": 5, "category_id": 3, "bbox": [3, 2, 6, 4],
                 "segmentation": [[3, 2, 9, 2, 9, 6, 3, 6]]},
                {"id": 2, "image_id": 5, "category_id": 3, "bbox": [3, 2, 6, 4],
                 "segmentation": {"size": [10, 12], "counts": rle.mask_to_counts(square)}}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    image, target = CocoDetection(str(tmp_path), str(tmp_path / "ann.json"))[0]
    assert image.shape == (3, 10, 12) and target["image_id"] == 5
    np.testing.assert_array_equal(target["masks"], [square, square])
    np.testing.assert_array_equal(target["boxes"], [[3, 2, 9, 6]] * 2)
    np.testing.assert_array_equal(target["labels"], [3, 3])


def test_rle_matches_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the RLE oracle")
    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = rng.integers(1, 30, 2)
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        ours = rle.encode(m)
        assert mask_api.encode(np.asfortranarray(m))["counts"].decode() == ours["counts"]
        np.testing.assert_array_equal(rle.decode(ours), m)


BAD_COCO = {
    "missing annotations": (lambda d: d.pop("annotations"), r"missing 'annotations'"),
    "bbox of 3": (lambda d: d["annotations"][1].update(bbox=[1, 2, 3]),
                  r"annotations\[1\]\.bbox must be 4 numbers"),
    "bbox text": (lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4]),
                  r"annotations\[0\]\.bbox must be 4 numbers"),
    "negative width": (lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4]),
                       r"annotations\[0\]\.bbox has a negative width"),
    "unknown category": (lambda d: d["annotations"][0].update(category_id=99),
                         r"annotations\[0\]\.category_id 99 is not the id of any category"),
    "unknown image": (lambda d: d["annotations"][2].update(image_id=1234),
                      r"annotations\[2\]\.image_id 1234 is not the id of any image"),
    "image id list": (lambda d: d["annotations"][0].update(image_id=[1]),
                      r"annotations\[0\]\.image_id must be an int"),
    "missing bbox": (lambda d: d["annotations"][0].pop("bbox"), r"annotations\[0\] is missing 'bbox'"),
    "duplicate image": (lambda d: d["images"][1].update(id=d["images"][0]["id"]),
                        r"images\[1\]\.id 0 appears twice"),
    "image without file": (lambda d: d["images"][0].pop("file_name"), r"images\[0\] needs"),
    "category id 0": (lambda d: d["categories"][0].update(id=0), r"categories\[0\]\.id is 0"),
    "iscrowd 2": (lambda d: d["annotations"][0].update(iscrowd=2), r"iscrowd must be 0 or 1"),
    "width zero": (lambda d: d["images"][0].update(width=0), r"images\[0\]\.width must be"),
    "not a dict": (lambda d: [d.clear()] and None, None),
}


@pytest.mark.parametrize("case", sorted(BAD_COCO))
def test_coco_bad_files_name_file_and_field(coco_dir, case):
    path = coco_dir / "ann.json"
    data = json.loads(path.read_text())
    mutate, pattern = BAD_COCO[case]
    if case == "not a dict":
        bad, pattern = [data], "top level must be a JSON object"
    else:
        bad = copy.deepcopy(data)
        mutate(bad)
    (coco_dir / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="bad.json: .*" + pattern):
        CocoDetection(str(coco_dir / "img"), str(coco_dir / "bad.json"))


def test_coco_bad_json_missing_files_and_bad_masks(coco_dir):
    (coco_dir / "broken.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"broken.json: not valid JSON"):
        CocoDetection(str(coco_dir), str(coco_dir / "broken.json"))
    with pytest.raises(FileNotFoundError, match="annotation file not found: .*nothere.json"):
        CocoDetection(str(coco_dir), str(coco_dir / "nothere.json"))
    ds = CocoDetection(str(coco_dir), str(coco_dir / "ann.json"))           # wrong image folder
    with pytest.raises(FileNotFoundError, match=r"image id 0.*image file not found"):
        ds[0]
    data = json.loads((coco_dir / "ann.json").read_text())
    data["annotations"][0]["segmentation"]["counts"] = "!!"
    (coco_dir / "badrle.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"badrle.json: annotation id 1.*RLE"):
        CocoDetection(str(coco_dir / "img"), str(coco_dir / "badrle.json"))[0]
    data["images"][0]["width"] = 50
    data["annotations"][0]["segmentation"] = []
    (coco_dir / "badsize.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"image id 0 says 50x48 but .* is 48x48"):
        CocoDetection(str(coco_dir / "img"), str(coco_dir / "badsize.json"))[0]


def test_pycocotools_loads_our_ground_truth(coco_dir, scenes):
    pytest.importorskip("pycocotools", reason="pycocotools is the reference COCO reader")
    import contextlib
    import io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(coco_dir / "ann.json"))
        assert len(gt.getImgIds()) == 4 and len(gt.getCatIds()) == len(scenes.CLASSES)
        for ann in gt.dataset["annotations"]:       # its own decoder reads our masks
            mask = gt.annToMask(ann)
            image = scenes[ann["image_id"]][1]
            k = ann["id"] - 1 - sum(len(scenes[i][1]["labels"]) for i in range(ann["image_id"]))
            np.testing.assert_array_equal(mask, image["masks"][k])
        # Ground truth scored as detections: a perfect AP under both IoU types.
        detections = [{k: v for k, v in a.items() if k != "id"} | {"score": 1.0}
                      for a in gt.dataset["annotations"]]
        for iou_type in ("bbox", "segm"):
            ev = COCOeval(gt, gt.loadRes(copy.deepcopy(detections)), iou_type)
            ev.evaluate(), ev.accumulate(), ev.summarize()
            assert ev.stats[0] == pytest.approx(1.0)


# ---- VOC -----------------------------------------------------------------------------------

def test_voc_round_trip(tmp_path, scenes):
    ids = write_voc(str(tmp_path), scenes, scenes.CLASSES, image_set="val")
    assert ids == [f"{i:06d}" for i in range(4)]
    ds = VOCDetection(str(tmp_path), "val", classes=scenes.CLASSES)
    for i in range(4):
        same_item(scenes[i], ds[i], ("boxes", "labels", "image_id"))
        assert not ds[i][1]["difficult"].any()


def test_voc_difficult_and_fractional_coordinates(tmp_path):
    image = np.zeros((3, 10, 10), np.float32)
    target = {"boxes": np.array([[0, 0, 4.5, 5], [2, 2, 8, 9]], np.float32),
              "labels": np.array([2, 1]), "difficult": np.array([False, True]), "image_id": 3}
    write_voc(str(tmp_path), [(image, target)], ["a", "b"])
    xml = (tmp_path / "Annotations" / "000003.xml").read_text()
    assert "<xmin>1</xmin>" in xml and "<xmax>4.5</xmax>" in xml and "<name>b</name>" in xml
    ds = VOCDetection(str(tmp_path), classes=["a", "b"])
    np.testing.assert_array_equal(ds[0][1]["boxes"], target["boxes"])
    np.testing.assert_array_equal(ds[0][1]["difficult"], [False, True])
    easy = VOCDetection(str(tmp_path), classes=["a", "b"], keep_difficult=False)[0][1]
    np.testing.assert_array_equal(easy["labels"], [2])


GOOD_OBJECT = ("<object><name>circle</name><difficult>0</difficult><bndbox><xmin>1</xmin>"
               "<ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>")
BAD_VOC = {
    "entity": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><annotation><filename>&lol2;</filename>'
               "</annotation>", "DOCTYPE or ENTITY declaration is refused"),
    "external": ('<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://example.com/a.dtd">'
                 "<annotation/>", "DOCTYPE or ENTITY declaration is refused"),
    "no bndbox": ("<annotation><filename>a.png</filename><object><name>circle</name></object>"
                  "</annotation>", r"object 0 \(circle\) has no <bndbox>"),
    "unknown class": ("<annotation><filename>a.png</filename>"
                      + GOOD_OBJECT.replace("circle", "dog") + "</annotation>",
                      r"object 0 <name> 'dog' is not one of the classes"),
    "bad number": ("<annotation><filename>a.png</filename>"
                   + GOOD_OBJECT.replace("<xmax>5", "<xmax>five") + "</annotation>",
                   r"object 0 <bndbox> <xmax> is not a number: 'five'"),
    "missing ymin": ("<annotation><filename>a.png</filename>"
                     + GOOD_OBJECT.replace("<ymin>2</ymin>", "") + "</annotation>",
                     r"object 0 <bndbox> has no <ymin>"),
    "inverted": ("<annotation><filename>a.png</filename>"
                 + GOOD_OBJECT.replace("<xmax>5", "<xmax>0") + "</annotation>",
                 r"xmax < xmin"),
    "no filename": ("<annotation>" + GOOD_OBJECT + "</annotation>",
                    r"<annotation> has no <filename>"),
    "malformed": ("<annotation><filename>a.png</annotation>", r"not well-formed XML"),
    "wrong root": ("<html/>", r"root element must be <annotation>"),
}


@pytest.mark.parametrize("case", sorted(BAD_VOC))
def test_voc_bad_files_name_file_and_field(tmp_path, case):
    text, pattern = BAD_VOC[case]
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("x1\n")
    (tmp_path / "Annotations" / "x1.xml").write_text(text)
    with pytest.raises(ValueError, match=r"x1\.xml: .*" + pattern):
        VOCDetection(str(tmp_path), classes=["circle"])


def test_voc_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image set list not found: .*train.txt"):
        VOCDetection(str(tmp_path))
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("x1\n")
    with pytest.raises(FileNotFoundError, match=r"annotation file not found: .*x1.xml"):
        VOCDetection(str(tmp_path))


# ---- atomic writes -------------------------------------------------------------------------

def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, scenes):
    path = tmp_path / "ann.json"
    path.write_text("old contents")

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(_io.os, "fsync", crash)     # fail after the bytes went to the temp file
    with pytest.raises(OSError, match="disk full"):
        write_coco(str(path), scenes, scenes.CLASSES)
    assert path.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["ann.json"]
    monkeypatch.undo()
    write_coco(str(path), scenes, scenes.CLASSES)
    assert json.loads(path.read_text())["categories"][0]["name"] == "circle"
    assert os.listdir(tmp_path) == ["ann.json"]


def test_bad_target_never_starts_the_file(tmp_path):
    image = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="label 3 has no class name"):
        write_voc(str(tmp_path), [(image, {"boxes": np.zeros((1, 4)), "labels": [3]})], ["a"])
    assert os.listdir(tmp_path / "Annotations") == []
