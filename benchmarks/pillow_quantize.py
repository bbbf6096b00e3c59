"""Pillow's own quantizer as a benchmark contender: ``Image.quantize(k)`` without dithering.

Usage: python pillow_quantize.py IN.png OUT.png K
"""

import sys

from PIL import Image


def main() -> None:
    src, dst, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Image.open(src) as image:
        image.convert("RGB").quantize(k, dither=Image.Dither.NONE).save(dst)


if __name__ == "__main__":
    main()
