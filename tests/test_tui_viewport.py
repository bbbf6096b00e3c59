"""The viewport model: zoom, pan, clicks and the pixel grid a pane samples (no terminal)."""

from __future__ import annotations

import numpy as np
import pytest

from kmc_tui.tui.viewport import ZOOM_STEPS, Viewport, fit_scale

IMAGE = (400, 300)
PANE = (100, 60)  # pixels: 100 cells across, 30 cells down


def test_fit_scale_is_the_larger_ratio():
    assert fit_scale(IMAGE, PANE) == pytest.approx(5.0)  # 300 / 60 beats 400 / 100
    assert fit_scale((100, 10), PANE) == pytest.approx(1.0)
    assert fit_scale(IMAGE, (0, 0)) == 1.0  # no room yet: any positive scale


def test_labels():
    assert Viewport().label == "fit"
    assert Viewport(1.0).label == "1:1"
    assert Viewport(0.25).label == "4:1"
    assert Viewport(4.0).label == "1:4"


def test_zoom_in_from_fit_takes_the_next_step_closer_around_the_middle():
    vp = Viewport().zoomed(1, image_size=IMAGE, pane_pixels=PANE)
    assert vp == Viewport(4.0, 200.0, 150.0)
    vp = vp.zoomed(1, image_size=IMAGE, pane_pixels=PANE)
    assert vp.scale == 2.0 and (vp.center_x, vp.center_y) == (200.0, 150.0)


def test_zoom_in_stops_at_the_last_step():
    closest = Viewport(ZOOM_STEPS[-1], 10.0, 20.0)
    assert closest.zoomed(1, image_size=IMAGE, pane_pixels=PANE) == closest


def test_zoom_out_past_fit_is_fit():
    vp = Viewport(4.0, 10.0, 20.0)
    assert vp.zoomed(-1, image_size=IMAGE, pane_pixels=PANE) == Viewport()
    vp = Viewport(1.0, 10.0, 20.0).zoomed(-1, image_size=IMAGE, pane_pixels=PANE)
    assert vp == Viewport(2.0, 10.0, 20.0)  # the center stays where it was


def test_one_to_one_keeps_the_place():
    assert Viewport().one_to_one(IMAGE) == Viewport(1.0, 200.0, 150.0)
    assert Viewport(4.0, 10.0, 20.0).one_to_one(IMAGE) == Viewport(1.0, 10.0, 20.0)


def test_pan_moves_a_quarter_of_the_pane_and_stays_on_the_image():
    vp = Viewport(1.0, 200.0, 150.0)
    assert vp.panned(1, 0, image_size=IMAGE, pane_pixels=PANE) == Viewport(1.0, 225.0, 150.0)
    assert vp.panned(0, -1, image_size=IMAGE, pane_pixels=PANE) == Viewport(1.0, 200.0, 135.0)
    far = vp
    for _ in range(50):
        far = far.panned(-1, 1, image_size=IMAGE, pane_pixels=PANE)
    assert (far.center_x, far.center_y) == (0.0, 300.0)
    assert Viewport().panned(1, 1, image_size=IMAGE, pane_pixels=PANE) == Viewport()


def test_a_click_centers_there_at_one_to_one_or_closer():
    assert Viewport().centered_on(12.0, 34.0) == Viewport(1.0, 12.0, 34.0)
    assert Viewport(0.5, 0.0, 0.0).centered_on(12.0, 34.0) == Viewport(0.5, 12.0, 34.0)
    assert Viewport(4.0, 0.0, 0.0).centered_on(12.0, 34.0) == Viewport(1.0, 12.0, 34.0)


def test_grid_at_fit_covers_the_whole_image_centered_in_the_pane():
    xs, ys = Viewport().sample_grid(IMAGE, PANE)
    assert len(xs) == 100 and len(ys) == 60
    inside_x = xs[xs >= 0]
    assert len(inside_x) == 80  # 400 / 5 columns, centered
    assert (xs[:10] == -1).all() and (xs[-10:] == -1).all()
    assert inside_x.min() >= 0 and inside_x.max() < IMAGE[0]
    assert (ys >= 0).all() and ys.max() < IMAGE[1]
    assert np.allclose(np.diff(inside_x), 5.0)


def test_grid_at_one_to_one_steps_one_pixel_around_the_center():
    xs, ys = Viewport(1.0, 200.0, 150.0).sample_grid(IMAGE, PANE)
    assert np.allclose(np.diff(xs), 1.0) and np.allclose(np.diff(ys), 1.0)
    assert xs[50] == pytest.approx(200.5) and ys[30] == pytest.approx(150.5)


def test_grid_of_a_small_image_leaves_margins_on_every_side():
    xs, ys = Viewport(1.0, 5.0, 5.0).sample_grid((10, 10), PANE)
    assert (xs >= 0).sum() == 10 and (ys >= 0).sum() == 10
    assert xs[45] == pytest.approx(0.5) and xs[54] == pytest.approx(9.5)
