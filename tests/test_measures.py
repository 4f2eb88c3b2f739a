"""The picture measures on constructed images: blown-white blobs, tonal layout, detail painted flat, block
grid, stride pattern, shift consistency."""

import numpy as np
import pytest

from faststyle.measures import blown_white_share, flattened_share, tonal_correlation

from tests.conftest import photo


def test_blob_free_output_scores_zero():
    source = photo(128, 128)
    painted = np.clip(source.astype(int) // 2 + 40, 0, 255).astype(np.uint8)  # darker, nowhere white
    assert blown_white_share(painted, source) == 0.0


def test_a_white_blob_is_measured_by_its_area():
    source = photo(128, 128)
    painted = np.clip(source.astype(int) // 2, 0, 240).astype(np.uint8)
    painted[10:26, 40:56] = 255  # a 16x16 blob: 256 of 16384 pixels
    assert blown_white_share(painted, source) == pytest.approx(256 / 128 ** 2)
    painted[30:32, 0:10] = [255, 255, 200]  # bright but not white in every channel
    assert blown_white_share(painted, source) == pytest.approx(256 / 128 ** 2)


def test_white_already_in_the_photo_is_not_a_blob():
    source = photo(64, 64)
    source[:32] = 255  # an overcast sky
    painted = source.copy()
    assert blown_white_share(painted, source) == 0.0
    painted[40:48, 40:48] = 255
    assert blown_white_share(painted, source) == pytest.approx(64 / 64 ** 2)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shapes differ"):
        blown_white_share(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))


def test_tonal_correlation_tells_kept_layout_from_lost():
    source = photo(256, 256)
    tinted = np.clip(source * 0.6 + np.array([60, 20, 0]), 0, 255)  # same light and dark, other colours
    flipped = source[::-1, ::-1]
    assert tonal_correlation(tinted, source) > 0.95
    assert tonal_correlation(flipped, source) < 0.5
    assert np.isnan(tonal_correlation(source[:16, :16], source[:16, :16]))  # smaller than two blocks


def test_flattened_share_counts_textured_photo_painted_as_one_tone_and_not_a_flat_sky():
    rng = np.random.default_rng(0)
    rock = 128 + rng.normal(0, 30, (128, 128, 1)).repeat(3, axis=2)  # granite: texture in every square
    photo_ = np.concatenate([np.full((64, 128, 3), 200.0), rock[64:]])  # a flat sky above the rock
    assert flattened_share(np.clip(photo_ * 0.5 + 80, 0, 255), photo_) == 0.0  # repainted, texture kept
    wall = photo_.copy()
    wall[64:, :64] = 230 + rng.normal(0, 1, (64, 64, 3))  # the rock's left half: one pale tone
    # Half the rock's squares; the sky, flat in both, is no loss (counted, it would make 0.75).
    assert flattened_share(wall, photo_) == pytest.approx(0.5)
    assert flattened_share(np.full((64, 64, 3), 9.0), np.full((64, 64, 3), 200.0)) == 0.0  # nothing textured


def test_block_grid_ratio_sees_a_2x2_grid_and_not_a_smooth_picture():
    from faststyle.measures import block_grid_ratio

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:128, 0:128]
    smooth = np.stack([128 + 100 * np.sin(x / 9.0 + c) * np.cos(y / 13.0) for c in range(3)], axis=-1)
    smooth += rng.normal(0, 2, smooth.shape)
    assert 0.9 < block_grid_ratio(smooth) < 1.1
    # The same picture painted in 2x2 blocks (as an unfolded half-resolution one would be).
    blocky = smooth[::2, ::2].repeat(2, axis=0).repeat(2, axis=1)
    assert block_grid_ratio(blocky) > 5
    # A weaker grid: each block's pixels pulled a little toward their block's own offset.
    offsets = rng.normal(0, 6, (64, 64, 1)).repeat(2, axis=0).repeat(2, axis=1)
    assert block_grid_ratio(smooth + offsets) > 1.3


def test_stride_pattern_measures_fine_dashes_at_their_period_only():
    from faststyle.measures import stride_pattern

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:256, 0:320]
    smooth = np.stack([128 + 90 * np.sin(x / 11.0 + c) * np.cos(y / 17.0) for c in range(3)], axis=-1)
    smooth += rng.normal(0, 3, smooth.shape)  # the grain every picture has at these frequencies
    for period in (2, 4):
        assert stride_pattern(smooth, period) < 0.2
        assert stride_pattern(photo(256, 320), period) < 0.2
    # Faint vertical dashes every 4 px, 6 grey levels, in the left half only, as a network paints
    # them into a flat area: a wave of 3 grey levels over half of each row.
    dashes = smooth.copy()
    dashes[:, :160][:, ::4] += 6
    assert stride_pattern(dashes, 4) == pytest.approx(1.5, abs=0.1)
    assert stride_pattern(dashes.transpose(1, 0, 2), 4) == pytest.approx(stride_pattern(dashes, 4))  # either axis
    # Alternate rows 2 grey levels apart: a 2 px wave of 1 grey level, which is not a 4 px one.
    rows = smooth + 2 * (y % 2)[..., None]
    assert stride_pattern(rows, 2) == pytest.approx(1.0, abs=0.1) and stride_pattern(rows, 4) < 0.2
    with pytest.raises(ValueError, match="too short"):
        stride_pattern(smooth[:30, :30], 4)


def test_shift_consistency_is_zero_for_a_per_pixel_picture_and_not_for_a_stride_of_4():
    """A painting that does the same to every pixel moves with the photo; one built on 4x4 blocks
    (a stride of 4, as the networks' downsampling) agrees at shifts of 4 and 8 only."""
    from faststyle.measures import shift_consistency

    rgb = photo(128, 160)
    assert all(e == 0 for e in shift_consistency(lambda x: 255 - x, rgb).values())

    def blocks(x):  # the same size out as in, as a network's picture
        h, w = -(-x.shape[0] // 4) * 4, -(-x.shape[1] // 4) * 4
        padded = np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1]), (0, 0)), mode="edge").astype(np.float32)
        cells = padded.reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3))
        return np.repeat(np.repeat(cells, 4, axis=0), 4, axis=1)[: x.shape[0], : x.shape[1]]

    errors = shift_consistency(blocks, rgb)
    assert errors[4] == errors[8] == 0
    assert min(errors[d] for d in (1, 2, 3, 5, 6, 7)) > 0.5
    with pytest.raises(ValueError):
        shift_consistency(blocks, photo(40, 40))
