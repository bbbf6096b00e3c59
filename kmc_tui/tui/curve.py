"""The rate–distortion curve the R–D view shows, kept apart from Textual.

A :class:`Curve` is one image's file size against ΔE2000 over a ladder of k, for one setting
of everything else (plugin, parameters, dithering, format). Its points come in over time: first
estimates (each from a small sample of the image), then real runs (each the same as a plain run
at that k), which replace them. The session keeps the latest curve, so leaving the view and
coming back loses nothing computed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..formats import K_MAX
from ..targets import Knee, Trial, k_ladder, knee
from .session import Settings

#: Points of the ladder (the issue asks for about 20–30 between 2 and 256).
LADDER_STEPS = 24
#: Pixels of the sample the first estimates run on: about the preview copy's size, in tiles
#: of the image at full resolution (a downscaled copy's files do not scale to the image's).
ESTIMATE_PIXELS = 16_384


class Curve:
    """Points (:class:`~kmc_tui.targets.Trial`) of one image and one setting, by k.

    Parameters
    ----------
    image : Image
    settings : Settings
        Everything but k is what the curve is for; k is added to the ladder (the current k is
        always on the curve).
    steps : int
        About how many k from 2 to the most colors.
    """

    def __init__(self, image: Any, settings: Settings, *, steps: int = LADDER_STEPS):
        self.image = image
        self.key = replace(settings, k=0)
        self.ks: tuple[int, ...] = tuple(sorted({*k_ladder(K_MAX, steps=steps), settings.k}))
        self._points: dict[int, Trial] = {}

    def matches(self, image: Any, settings: Settings) -> bool:
        """Whether this is the curve of `image` under `settings` (k aside)."""
        return image is self.image and replace(settings, k=0) == self.key

    def include(self, k: int) -> None:
        """Put `k` on the ladder (the k the view opened at)."""
        if k not in self.ks:
            self.ks = tuple(sorted({*self.ks, int(k)}))

    def add(self, trial: Trial) -> bool:
        """Take a point in; a real run replaces an estimate, never the other way. True when
        the curve changed."""
        held = self._points.get(trial.k)
        if held is not None and trial.estimate and not held.estimate:
            return False
        self._points[trial.k] = trial
        return True

    def point(self, k: int) -> Trial | None:
        return self._points.get(k)

    def points(self) -> list[Trial]:
        """The points known, by k."""
        return [self._points[k] for k in self.ks if k in self._points]

    def missing(self, *, estimate: bool) -> list[int]:
        """The k still to compute: with `estimate`, those with no point at all; otherwise those
        without a real run."""
        return [
            k
            for k in self.ks
            if (p := self._points.get(k)) is None or (not estimate and p.estimate)
        ]

    @property
    def real_count(self) -> int:
        return sum(1 for p in self._points.values() if not p.estimate)

    @property
    def complete(self) -> bool:
        return self.real_count == len(self.ks)

    def knee(self) -> Knee | None:
        """The knee of the points known (see :func:`kmc_tui.targets.knee`)."""
        return knee(self.points())

    def step(self, k: int, delta: int) -> int:
        """The k `delta` places from `k` along the ladder (clamped to its ends)."""
        ks = self.ks
        i = min(range(len(ks)), key=lambda j: abs(ks[j] - k))
        return ks[max(0, min(len(ks) - 1, i + delta))]
