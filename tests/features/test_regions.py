"""The R-MAC grid against Tolias et al.'s layout (rmac_regions.m), worked out by hand."""

from __future__ import annotations

import pytest

from dfcnn.features.regions import regions_with_whole_map, rmac_grid


def _squares(side, xs, ys):
    return [(x, y, side, side) for y in ys for x in xs]


def test_square_3x3():
    # level 1: w_l = 3 (the whole map); level 2: w_l = 2 at 0, 1; level 3: w_l = 1 at 0, 1, 2
    expected = _squares(3, [0], [0]) + _squares(2, [0, 1], [0, 1]) + _squares(1, [0, 1, 2], [0, 1, 2])
    assert list(rmac_grid(3, 3, 3)) == expected
    # the whole map is the first level-1 region already: kept once
    assert list(regions_with_whole_map(3, 3, 3)) == expected


def test_wide_5x3():
    # w = 3; b = 2/(s-1); overlap 1 - b/3 closest to 0.4 at s = 2 -> one extra region along W
    expected = (
        _squares(3, [0, 2], [0])  # level 1: 2 x 1, step (5-3)/1 = 2
        + _squares(2, [0, 1, 3], [0, 1])  # level 2: step 1.5 -> floor 0, 1.5, 3
        + _squares(1, [0, 1, 2, 4], [0, 1, 2])  # level 3: wl2 = -1, step 4/3 -> 0, 1, 2, 4
    )
    assert list(rmac_grid(5, 3, 3)) == expected
    assert list(regions_with_whole_map(5, 3, 3)) == [(0, 0, 5, 3)] + expected


def test_tall_3x5_is_the_wide_grid_transposed():
    expected = _squares(3, [0], [0, 2]) + _squares(2, [0, 1], [0, 1, 3]) + _squares(1, [0, 1, 2], [0, 1, 2, 4])
    assert list(rmac_grid(3, 5, 3)) == expected


def test_wide_16x12_a_512x384_image_on_efficientnet():
    expected = (
        _squares(12, [0, 4], [0])  # wl = 12, wl2 = 5, step 4
        + _squares(8, [0, 4, 8], [0, 4])  # wl = 8, wl2 = 3, steps 4 and 4
        + _squares(6, [0, 3, 6, 10], [0, 3, 6])  # wl = 6, wl2 = 2, steps 10/3 and 3
    )
    assert list(rmac_grid(16, 12, 3)) == expected


@pytest.mark.parametrize("W,H", [(1, 1), (2, 7), (7, 2), (16, 16), (32, 9), (9, 32)])
def test_regions_lie_inside_the_map(W, H):
    regions = regions_with_whole_map(W, H, 3)
    assert regions[0] == (0, 0, W, H)
    assert len(set(regions)) == len(regions)
    for x, y, w, h in regions:
        assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= W and y + h <= H


def test_zero_sized_map_is_rejected():
    with pytest.raises(ValueError):
        rmac_grid(0, 3)
