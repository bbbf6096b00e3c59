"""Animations in the terminal UI: which frame is shown, and its rows of a whole result.

An animation is quantized as one image (its frames stacked, one shared palette), so a result's
indices hold every frame one above the other; the panes show one frame of them at a time.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class FrameView:
    """Frame `index` (from 0) of `count` frames of `height` rows each."""

    count: int
    height: int
    index: int = 0

    def stepped(self, delta: int) -> FrameView:
        """`delta` frames on (back when negative), round the ends."""
        return replace(self, index=(self.index + delta) % self.count)

    def rows(self, stacked: np.ndarray) -> np.ndarray:
        """This frame's rows of `stacked` (every frame one above the other); `stacked` itself
        when it holds one frame only (a result written as a still image)."""
        if len(stacked) < self.count * self.height:
            return stacked
        return stacked[self.index * self.height : (self.index + 1) * self.height]

    @property
    def label(self) -> str:
        return f"frame {self.index + 1}/{self.count}"
