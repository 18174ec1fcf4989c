"""Two-stage against one-stage detectors, measured: accuracy, training time, speed, size.

    python benchmarks/detectors.py                       # train all four, then compare
    python benchmarks/detectors.py --out runs            # ... and keep the checkpoints
    python benchmarks/detectors.py --out runs --reuse    # compare the checkpoints in runs/
    python benchmarks/detectors.py --only ssd yolo --epochs 2   # a quick look

Every detector of tinyvision.models.detection is trained by its recipe (tinyvision/recipes/,
the same run as ``tinyvision train NAME``) on ShapesScenes, then all of them are evaluated
on the 500 test scenes the COCO way (mAP@0.5 is VOC's AP at IoU 0.5 averaged over classes;
AP is COCO's AP@[.5:.95]). Inference is timed in this run, one image at a time, the
detectors taking turns image by image so that a change in the machine's load falls on all
of them alike; the median over images is reported (ms per image), with the parameter count.

Training times are wall-clock seconds of the recipe in this run (with ``--reuse``: as that
run recorded them in ``<out>/<stem>.json``), with the process's CPU time beside them (on a
busy machine the closer guide to a quiet one); the README's figures are from 2 cores.
"""
import argparse
import json
import os
import statistics
import time

from tinyvision import recipes
from tinyvision.recipes import _detection

DETECTORS = {                       # task -> (name in the table, stages)
    "faster_rcnn": ("Faster R-CNN (FPN)", "two-stage"),
    "ssd": ("SSD", "one-stage"),
    "retinanet": ("RetinaNet (FPN, focal loss)", "one-stage"),
    "yolo": ("YOLO v1", "one-stage"),
}


def train_or_load(task, out, reuse, epochs, progress):
    """(model in eval mode, training record {seconds, cpu_seconds, epochs}) of one task."""
    recipe = recipes.task(task)
    record_path = None if out is None else os.path.join(out, f"{recipe.STEM}.json")
    if reuse:
        if out is None or not os.path.exists(record_path):
            raise SystemExit(f"detectors.py: --reuse needs {record_path}, written by an earlier "
                             f"run of this script with --out {out}")
        with open(record_path) as f:
            record = json.load(f)
        return recipe.load_model(record["checkpoint"]), record
    result = recipe.train(epochs=epochs, out=out, progress=progress)
    record = dict(seconds=result["seconds"], cpu_seconds=result.get("cpu_seconds"),
                  ms_per_image=result["ms_per_image"], checkpoint=result["checkpoint"],
                  metrics=result["metrics"])
    if record_path is not None:
        with open(record_path, "w") as f:
            json.dump(record, f, indent=1)
    return recipe.load_model(result["checkpoint"]) if result["checkpoint"] else None, record


def time_interleaved(models, images):
    """Median milliseconds per image of each model, the models taking turns image by image."""
    times = {name: [] for name in models}
    for model in models.values():
        model(images[:1])                                   # warm-up (JIT, caches)
    for i in range(len(images)):
        for name, model in models.items():
            start = time.perf_counter()
            model(images[i:i + 1])
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def _cpu(record):
    cpu = record.get("cpu_seconds")
    return "?" if cpu is None else f"{cpu:.0f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(DETECTORS), default=None)
    parser.add_argument("--out", default=None, help="folder for checkpoints and records")
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate the checkpoints an earlier run left in --out")
    parser.add_argument("--epochs", type=int, default=None, help="default: each recipe's")
    parser.add_argument("--timing-images", type=int, default=100,
                        help="test scenes the inference time is measured on")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    tasks = args.only or list(DETECTORS)

    models, records = {}, {}
    if args.out is None and not args.reuse:
        import tempfile
        args.out = tempfile.mkdtemp(prefix="tinyvision-detectors-")
    for task in tasks:
        print(f"{'loading' if args.reuse else 'training'} {task} ...", flush=True)
        models[task], records[task] = train_or_load(task, args.out, args.reuse, args.epochs,
                                                    args.progress)
    _, test_scenes = _detection.scenes("test")
    figures = {task: _detection.evaluate_model(models[task], test_scenes)[0] for task in tasks}
    ms = time_interleaved(models, test_scenes["images"][:args.timing_images])

    print("\n| detector | stages | mAP@0.5 | AP@[.5:.95] | training time (CPU time) "
          "| inference per image | parameters |")
    print("|---|---|---|---|---|---|---|")
    for task in tasks:
        name, stages = DETECTORS[task]
        print(f"| {name} | {stages} | {figures[task]['mAP@0.5']:.3f} | {figures[task]['AP']:.3f} "
              f"| {records[task]['seconds']:.0f} s ({_cpu(records[task])}) | {ms[task]:.1f} ms "
              f"| {_detection.count_parameters(models[task]):,} |")
    if "faster_rcnn" in ms:
        for task in tasks:
            if DETECTORS[task][1] == "one-stage":
                print(f"{DETECTORS[task][0]}: {ms['faster_rcnn'] / ms[task]:.1f}x faster per "
                      f"image than Faster R-CNN")


if __name__ == "__main__":
    main()
