"""The script kmc-tui grew from, kept only as the benchmark's baseline (not part of the package).

It reads with matplotlib, fits scikit-learn's ``KMeans(k)`` on every pixel (``fit_predict``) and
saves the centers back with matplotlib. Its known faults (a black image for PNG input, no RGBA or
grayscale handling, no determinism) are kept as they were: it is only ever run on JPEG photos here.
Needs matplotlib, which is not a kmc-tui dependency: install it in the benchmark environment.

Usage: python original_script.py -i photo.jpg -o out.png -k 64
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-i", "--input", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-k", type=int, default=64)
    args = parser.parse_args()

    image = plt.imread(args.input)
    h, w, c = image.shape
    pixels = image.reshape(-1, c)
    kmeans = KMeans(n_clusters=args.k)
    labels = kmeans.fit_predict(pixels)
    result = kmeans.cluster_centers_[labels].reshape(h, w, c)
    plt.imsave(args.output, result.astype(np.uint8))


if __name__ == "__main__":
    main()
