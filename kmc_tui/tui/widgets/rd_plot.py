"""The rate–distortion plot: file size (and ratio to the input) against ΔE2000, one point per k.

Drawn with textual-plotext: a braille line through the points, a dot per real run, a ring per
estimate, and marks for the selected k, the k the view opened at and the knee. ΔE2000 runs
from right to left, so that more colors is to the right (and up): the left and right keys
move the selection the way they point.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ...formats import human_bytes

#: Marks on the plot (one character each; listed again in the view's legend).
MARK_REAL = "•"
MARK_ESTIMATE = "○"
MARK_SELECTED = "◆"
MARK_CURRENT = "■"
MARK_KNEE = "▲"


def short_bytes(n: float) -> str:
    """A tick label: 45K, 1.2M (sizes as human_bytes counts them, in powers of 1000)."""
    text = human_bytes(int(round(n)))
    number, unit = text.split()
    number = number.rstrip("0").rstrip(".") if "." in number else number
    return f"{number}{unit[0] if unit != 'B' else ''}"


class RateDistortionPlot(PlotextPlot):
    """Size against ΔE2000 for the points of a :class:`~kmc_tui.tui.curve.Curve`."""

    COMPONENT_CLASSES = {
        "rate-distortion-plot--line",
        "rate-distortion-plot--point",
        "rate-distortion-plot--selected",
        "rate-distortion-plot--current",
        "rate-distortion-plot--knee",
    }

    DEFAULT_CSS = """
    RateDistortionPlot > .rate-distortion-plot--line { color: $primary; }
    RateDistortionPlot > .rate-distortion-plot--point { color: $foreground; }
    RateDistortionPlot > .rate-distortion-plot--selected { color: $accent; }
    RateDistortionPlot > .rate-distortion-plot--current { color: $warning; }
    RateDistortionPlot > .rate-distortion-plot--knee { color: $success; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._points: list = []
        self._selected: int | None = None
        self._current: int | None = None
        self._knee: int | None = None
        self._input_bytes: int | None = None

    def show_curve(
        self,
        points: list,
        *,
        selected: int | None,
        current: int | None,
        knee: int | None,
        input_bytes: int | None,
    ) -> None:
        """Draw `points` (each with k, delta_e, bytes, estimate), marking three of their k."""
        self._points = [p for p in points if p.delta_e is not None and p.bytes is not None]
        self._selected, self._current, self._knee = selected, current, knee
        self._input_bytes = input_bytes
        self.replot()

    def _color(self, part: str) -> tuple[int, int, int]:
        color = self.get_component_rich_style(f"rate-distortion-plot--{part}").color
        if color is None or color.triplet is None:
            return (255, 255, 255)
        return tuple(color.triplet)

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("mean ΔE2000  (more colors →)")
        points = self._points
        if not points:
            plt.title("computing the first points…")
            self.refresh()
            return
        xs = [-p.delta_e for p in points]
        ys = [p.bytes for p in points]
        plt.plot(xs, ys, marker="braille", color=self._color("line"))
        by_k = {p.k: p for p in points}
        for estimate, mark in ((False, MARK_REAL), (True, MARK_ESTIMATE)):
            chosen = [p for p in points if p.estimate == estimate]
            if chosen:
                plt.scatter(
                    [-p.delta_e for p in chosen],
                    [p.bytes for p in chosen],
                    marker=mark,
                    color=self._color("point"),
                )
        # Drawn last so they lie on top: the knee, the k the view opened at, the selection.
        for k, mark, part in (
            (self._knee, MARK_KNEE, "knee"),
            (self._current, MARK_CURRENT, "current"),
            (self._selected, MARK_SELECTED, "selected"),
        ):
            if k in by_k:
                p = by_k[k]
                plt.scatter([-p.delta_e], [p.bytes], marker=mark, color=self._color(part))
        low, high = min(xs), max(xs)
        ticks = [low + (high - low) * i / 4 for i in range(5)] if high > low else [low]
        plt.xticks(ticks, [f"{-t:.2f}" for t in ticks])
        low, high = min(ys), max(ys)
        ticks = [low + (high - low) * i / 3 for i in range(4)] if high > low else [low]
        labels = []
        for t in ticks:
            ratio = f" {t / self._input_bytes:.2f}×" if self._input_bytes else ""
            labels.append(f"{short_bytes(t)}{ratio}")
        plt.yticks(ticks, labels)
        self.refresh()
