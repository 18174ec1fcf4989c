"""Pascal VOC detection data: read (``VOCDetection``) and write (``write_voc``).

A VOC folder (Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV
2010) holds one XML file per picture and lists of picture ids per split:

    root/Annotations/<id>.xml        <annotation><filename/><size><width/><height/></size>
                                     <object><name/><difficult/><bndbox><xmin/><ymin/>
                                     <xmax/><ymax/></bndbox></object>...</annotation>
    root/JPEGImages/<filename>       the picture (``write_voc`` writes PNGs here: lossless)
    root/ImageSets/Main/<set>.txt    one id per line

VOC corners are 1-based pixel numbers, both inclusive. tinyvision's boxes are xyxy with the
left-top pixel at 0 and the right edge one past the last pixel, so x1 = xmin − 1, x2 = xmax
(a box around pixels 1..10 in VOC, 0..9 here, is x1 = 0, x2 = 10: width 10).

The XML is parsed with DOCTYPE and ENTITY declarations refused (see ``_io.parse_xml``).
"""
import os
import xml.etree.ElementTree as ET

import numpy as np

from ._io import atomic_write, encode_png, iterate_samples, parse_xml, read_image
from .dataset import Dataset, check_index

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")


def _text(node, tag, path, where, required=True):
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        if required:
            raise ValueError(f"{path}: {where} has no <{tag}>")
        return None
    return child.text.strip()


def _number(node, tag, path, where):
    text = _text(node, tag, path, where)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: {where} <{tag}> is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}: {where} <{tag}> is not finite: {text!r}")
    return value


def parse_voc_xml(path, classes):
    """One VOC annotation file -> (filename, (width, height) or None, target arrays)."""
    root = parse_xml(path)
    if root.tag != "annotation":
        raise ValueError(f"{path}: the root element must be <annotation>, got <{root.tag}>")
    filename = _text(root, "filename", path, "<annotation>")
    size = root.find("size")
    wh = None if size is None else (int(_number(size, "width", path, "<size>")),
                                    int(_number(size, "height", path, "<size>")))
    boxes, labels, difficult = [], [], []
    for k, obj in enumerate(root.findall("object")):
        where = f"object {k}"
        name = _text(obj, "name", path, where)
        if name not in classes:
            raise ValueError(f"{path}: {where} <name> {name!r} is not one of the classes "
                             f"{list(classes)}")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise ValueError(f"{path}: {where} ({name}) has no <bndbox>")
        xmin, ymin, xmax, ymax = (_number(bndbox, t, path, f"{where} <bndbox>")
                                  for t in ("xmin", "ymin", "xmax", "ymax"))
        if xmax < xmin or ymax < ymin:
            raise ValueError(f"{path}: {where} <bndbox> has xmax < xmin or ymax < ymin: "
                             f"({xmin}, {ymin}, {xmax}, {ymax})")
        flag = _text(obj, "difficult", path, where, required=False) or "0"
        if flag not in ("0", "1"):
            raise ValueError(f"{path}: {where} <difficult> must be 0 or 1, got {flag!r}")
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        labels.append(classes.index(name) + 1)
        difficult.append(flag == "1")
    target = {"boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
              "labels": np.array(labels, dtype=np.int64),
              "difficult": np.array(difficult, dtype=bool)}
    return filename, wh, target


class VOCDetection(Dataset):
    """Detection data in a Pascal VOC folder (layout in the module docstring).

    Parameters
    ----------
    root : the folder with Annotations/, JPEGImages/, ImageSets/Main/ (e.g. VOCdevkit/VOC2007)
    image_set : name of the id list, 'train', 'val', 'trainval' or 'test'
    classes : class names; label = position + 1 (default: the 20 VOC classes)
    keep_difficult : keep objects marked difficult (VOC's evaluation ignores them)
    transforms : callable(image, target) -> (image, target), optional

    Items: image (3, H, W) float32 in [0, 1]; target ``boxes`` (K, 4) xyxy, ``labels`` (K,),
    ``difficult`` (K,) bool, ``image_id`` (the position in the id list), ``name`` (the id).
    Every annotation file is read and checked when the data set is made.
    """

    def __init__(self, root, image_set="train", classes=VOC_CLASSES, keep_difficult=True,
                 transforms=None):
        self.root, self.image_set = root, image_set
        self.classes, self.keep_difficult, self.transforms = tuple(classes), keep_difficult, transforms
        list_file = os.path.join(root, "ImageSets", "Main", f"{image_set}.txt")
        try:
            with open(list_file, encoding="utf-8") as f:
                self.ids = [line.split()[0] for line in f if line.strip()]
        except FileNotFoundError:
            raise FileNotFoundError(f"VOCDetection: image set list not found: {list_file}") from None
        self._records = [parse_voc_xml(os.path.join(root, "Annotations", f"{i}.xml"),
                                       self.classes) for i in self.ids]

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        index = check_index(index, len(self), "VOCDetection")
        filename, wh, target = self._records[index]
        path = os.path.join(self.root, "JPEGImages", filename)
        image = read_image(path, f"VOCDetection ({self.ids[index]})")
        if wh is not None and wh != (image.shape[2], image.shape[1]):
            raise ValueError(f"{os.path.join(self.root, 'Annotations', self.ids[index])}.xml: "
                             f"<size> says {wh[0]}x{wh[1]} but {path} is "
                             f"{image.shape[2]}x{image.shape[1]}")
        target = dict(target, image_id=index, name=self.ids[index])
        if not self.keep_difficult:
            keep = ~target["difficult"]
            target.update(boxes=target["boxes"][keep], labels=target["labels"][keep],
                          difficult=target["difficult"][keep])
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def _coordinate(value):
    """Exact text for a coordinate: an int when whole, else the shortest exact float."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def voc_xml(filename, image_shape, target, classes):
    """The VOC XML text of one picture's target (boxes converted as in the module docstring)."""
    annotation = ET.Element("annotation")
    ET.SubElement(annotation, "folder").text = "JPEGImages"
    ET.SubElement(annotation, "filename").text = filename
    size = ET.SubElement(annotation, "size")
    for tag, value in zip(("width", "height", "depth"),
                          (image_shape[2], image_shape[1], image_shape[0])):
        ET.SubElement(size, tag).text = str(value)
    boxes = np.asarray(getattr(target["boxes"], "data", target["boxes"]), dtype=np.float64)
    labels = np.asarray(getattr(target["labels"], "data", target["labels"]))
    difficult = target.get("difficult")
    difficult = np.zeros(len(boxes), bool) if difficult is None else np.asarray(
        getattr(difficult, "data", difficult))
    for box, label, hard in zip(boxes, labels, difficult):
        if not 1 <= label <= len(classes):
            raise ValueError(f"write_voc: label {label} has no class name (classes has "
                             f"{len(classes)} names, labels are 1..{len(classes)})")
        obj = ET.SubElement(annotation, "object")
        ET.SubElement(obj, "name").text = classes[int(label) - 1]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "1" if hard else "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"),
                              (box[0] + 1, box[1] + 1, box[2], box[3])):
            ET.SubElement(bndbox, tag).text = _coordinate(value)
    ET.indent(annotation)
    return ET.tostring(annotation, encoding="unicode") + "\n"


def write_voc(root, samples, classes, image_set="train"):
    """Write ``samples`` (an iterable of (image, target), e.g. a data set) as a VOC folder.

    Each picture goes to ``JPEGImages/{image_id:06d}.png``, its annotation to
    ``Annotations/{image_id:06d}.xml``, and the ids to ``ImageSets/Main/{image_set}.txt``;
    every file is written atomically. Returns the list of ids.
    """
    classes = tuple(classes)
    for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    ids = []
    for k, (image, target) in enumerate(iterate_samples(samples)):
        name = f"{int(target.get('image_id', k)):06d}"
        shape = np.shape(getattr(image, "data", image))
        xml = voc_xml(f"{name}.png", shape, target, classes)
        atomic_write(os.path.join(root, "JPEGImages", f"{name}.png"), encode_png(image, "write_voc"))
        atomic_write(os.path.join(root, "Annotations", f"{name}.xml"), xml)
        ids.append(name)
    atomic_write(os.path.join(root, "ImageSets", "Main", f"{image_set}.txt"),
                 "".join(i + "\n" for i in ids))
    return ids
