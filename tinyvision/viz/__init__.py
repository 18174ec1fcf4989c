"""Pictures of data and results, written to PNG with Pillow (no matplotlib).

    from tinyvision import viz
    viz.save_image_grid(images, "/tmp/batch.png", labels=[str(c) for c in y])
    viz.save_png(viz.draw_boxes(image, boxes, labels, scores, class_names), "/tmp/boxes.png")
    viz.plot_history(trainer_history, "/tmp/curves.png")

Images come in either layout and are told apart by dtype: CHW float in [0, 1] (tinyvision's
tensors) or HWC uint8 (PNG files, Pillow); (H, W) is grey. Every function returns a new
(H, W, 3) uint8 array; the ones with a ``path`` also write it, atomically (a temporary file
renamed over the target, so a crash never leaves half a PNG).

    image.py    to_rgb_uint8, save_png, make_grid, save_image_grid
    draw.py     draw_boxes, draw_masks, compare_grid (ground truth beside prediction)
    heatmap.py  overlay_heatmap (CAM / Grad-CAM), resize_bilinear
    colors.py   PALETTE (a colour per class), apply_colormap ('jet', 'viridis', 'gray')
    plot.py     plot_history (training curves)
    detection.py  draw_detections (a detector's output), plot_pr_curves (precision–recall)
"""
from .colors import PALETTE, apply_colormap
from .detection import draw_detections, plot_pr_curves
from .draw import compare_grid, draw_boxes, draw_masks
from .heatmap import overlay_heatmap, resize_bilinear
from .image import make_grid, save_image_grid, save_png, to_rgb_uint8
from .plot import plot_history

__all__ = ["PALETTE", "apply_colormap", "compare_grid", "draw_boxes", "draw_detections",
           "draw_masks", "make_grid", "overlay_heatmap", "plot_history", "plot_pr_curves",
           "resize_bilinear", "save_image_grid", "save_png", "to_rgb_uint8"]
