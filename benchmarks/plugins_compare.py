"""Compare the built-in quantizer plugins: seconds, mean ΔE2000, PSNR, k-means objective.

Each plugin quantizes the same image through the public API (``kmc_tui.api.process``); the
objective is the sum over all pixels of the squared CIELAB distance to their palette color
(what ``kmeans`` minimises), relative to ``kmeans``'s. ``--big`` upscales the image to 12 MP
and adds ±3 noise, giving about a million distinct colors: the case ``minibatch`` is for.

Usage::

    python benchmarks/plugins_compare.py [IMAGE] [-k 16] [--big] [--plugins kmeans,minibatch]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from kmc_tui.api import process
from kmc_tui.read import as_image, read_image
from kmc_tui.registry import Registry

ROOT = Path(__file__).resolve().parent.parent


def objective(image, result) -> float:
    """Sum of squared CIELAB distances, over every pixel, to its palette color."""
    from skimage.color import rgb2lab

    q = result.quantized
    colors, labels, counts = q.source_pairs
    src = rgb2lab(colors[None].astype(np.float32) / 255.0)[0]
    pal = rgb2lab(q.palette[None].astype(np.float32) / 255.0)[0]
    return float((counts * ((src - pal[labels]) ** 2).sum(1)).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=str(ROOT / "samples" / "astronaut.png"))
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--big", action="store_true", help="upscale to 12 MP with noise")
    parser.add_argument("--plugins", default="kmeans,minibatch,mediancut,octree")
    args = parser.parse_args()

    image = read_image(args.image)
    if args.big:
        from PIL import Image

        rgb = np.asarray(Image.fromarray(image.rgb).resize((4000, 3000), Image.BICUBIC))
        noise = np.random.default_rng(0).integers(-3, 4, rgb.shape)
        image = as_image(np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    registry = Registry(use_env=False)
    print(
        f"{Path(args.image).name}{' (12 MP, noise)' if args.big else ''}: "
        f"{image.width}x{image.height}, k={args.k}"
    )
    print(
        f"{'plugin':<10} {'quantize s':>10} {'total s':>8} {'ΔE2000':>7} {'PSNR':>6} "
        f"{'objective':>10}"
    )
    base = None
    for name in args.plugins.split(","):
        started = time.perf_counter()
        result = process(image, args.k, plugin=name, registry=registry)
        total = time.perf_counter() - started
        obj = objective(image, result)
        base = obj if base is None else base
        s = result.stats
        print(
            f"{name:<10} {s.seconds['quantize']:>10.2f} {total:>8.2f} {s.delta_e:>7.2f} "
            f"{s.psnr:>6.2f} {obj / base:>10.3f}"
        )


if __name__ == "__main__":
    main()
