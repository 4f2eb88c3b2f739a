"""The Python API: inputs of every kind, strength, colour preservation, alpha."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import faststyle
from faststyle.postprocess import _TO_YCBCR
from tests.conftest import photo


@pytest.fixture(scope="module")
def style(tiny_model_path):
    return faststyle.load_style(tiny_model_path)


def test_path_pil_and_array_give_the_same_result(tmp_path, style):
    image = photo(40, 56)
    path = tmp_path / "p.png"
    Image.fromarray(image).save(path)
    results = [np.asarray(faststyle.stylize(src, style)) for src in (path, Image.fromarray(image), image)]
    assert results[0].shape == (40, 56, 3)
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[1], results[2])


def test_style_by_name_from_user_folder(user_styles):
    out = faststyle.stylize(photo(32, 32), "tiny")
    assert out.size == (32, 32) and out.mode == "RGB"


def test_strength_zero_returns_the_photo_and_half_is_halfway(style):
    image = photo(48, 48)
    full = np.asarray(faststyle.stylize(image, style), float)
    none = np.asarray(faststyle.stylize(image, style, strength=0.0), float)
    half = np.asarray(faststyle.stylize(image, style, strength=0.5), float)
    assert np.array_equal(none, image)
    assert np.abs(half - (full + image) / 2).max() <= 1.0
    assert np.abs(full - image).mean() > 5  # the style does change the picture


def test_strength_out_of_range_is_refused(style):
    with pytest.raises(faststyle.FaststyleError, match="strength"):
        faststyle.stylize(photo(16, 16), style, strength=1.5)


def test_preserve_colors_keeps_the_photos_chroma(style):
    image = photo(48, 64, seed=3)
    styled = np.asarray(faststyle.stylize(image, style), np.float32)
    kept = np.asarray(faststyle.stylize(image, style, preserve_colors=True), np.float32)
    chroma = lambda a: a @ _TO_YCBCR[1:].T  # noqa: E731
    luma = lambda a: a @ _TO_YCBCR[0]  # noqa: E731
    # Where no channel clipped, chroma is the photo's and luminance is the stylized image's.
    ok = (kept > 2).all(-1) & (kept < 253).all(-1)
    assert ok.mean() > 0.5
    assert np.abs(chroma(kept) - chroma(image.astype(np.float32)))[ok].max() < 2.0
    assert np.abs(luma(kept) - luma(styled))[ok].max() < 2.0


def test_alpha_is_kept_as_is(style):
    rgba = np.dstack([photo(30, 40), np.linspace(0, 255, 30 * 40).reshape(30, 40).astype(np.uint8)])
    out = faststyle.stylize(Image.fromarray(rgba, "RGBA"), style)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_max_size_downscales_the_long_side(style):
    out = faststyle.stylize(photo(100, 200), style, max_size=64)
    assert out.size == (64, 32)


def test_greyscale_and_16bit_and_float_arrays(style):
    assert faststyle.stylize(photo(20, 20)[..., 0], style).mode == "RGB"
    sixteen = (photo(20, 20).astype(np.uint16) * 257)
    assert np.array_equal(np.asarray(faststyle.stylize(sixteen, style)), np.asarray(faststyle.stylize(photo(20, 20), style)))
    assert faststyle.stylize(photo(20, 20) / 255.0, style).size == (20, 20)


def test_stylizing_needs_no_tensorflow(tiny_model_path):
    code = (f"import sys, faststyle; faststyle.stylize(__import__('numpy').zeros((8, 8, 3), 'uint8'), r'{tiny_model_path}');"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_stroke_scale_paints_coarser_but_keeps_size_and_edges(style):
    from faststyle.postprocess import upsample_with_detail

    image = photo(160, 200, seed=3)
    fine = np.asarray(faststyle.stylize(image, style), np.float32)
    coarse = np.asarray(faststyle.stylize(image, style, stroke_scale=2), np.float32)
    assert coarse.shape == fine.shape and np.abs(coarse - fine).mean() > 1.0

    # The photo's fine detail comes back: sharper edges than plain upsampling of the small picture.
    small = np.asarray(Image.fromarray(image).resize((100, 80), Image.LANCZOS))
    painted = np.asarray(Image.fromarray(small).convert("L").convert("RGB"))  # any low-resolution picture
    plain = upsample_with_detail(painted, image, detail=0.0) @ _TO_YCBCR[0]
    kept = upsample_with_detail(painted, image, detail=1.0) @ _TO_YCBCR[0]
    edges = lambda a: np.percentile(np.abs(np.diff(a, axis=1)), 99.5)  # noqa: E731  (the steepest steps)
    assert edges(kept) > 1.2 * edges(plain)
    with pytest.raises(faststyle.FaststyleError, match="stroke scale"):
        faststyle.stylize(image, style, stroke_scale=0.5)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff"])
def test_outputs_keep_the_photos_exif_and_colour_profile_but_not_its_rotation(tmp_path, style, suffix):
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees": the stored pixels lie on their side
    exif[0x010F] = "TestCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "camera.jpg"
    Image.fromarray(photo(40, 64)).save(src, exif=exif.tobytes(), icc_profile=icc)
    target = tmp_path / f"out{suffix}"
    faststyle.stylize_file(src, target, style)
    with Image.open(target) as out:
        assert out.size == (40, 64)  # turned upright once, on reading
        assert out.getexif().get(0x010F) == "TestCam"
        assert out.getexif().get(0x0112) in (None, 1)  # so viewers do not turn it again
        assert out.info.get("icc_profile") == icc


def test_a_blend_is_the_weighted_mean_of_its_styles_pictures(tmp_path, tiny_model_path):
    from faststyle.training.export import export_onnx
    from tests.conftest import random_transform_net

    other = tmp_path / "other.onnx"
    export_onnx(random_transform_net(seed=3), other, {"name": "other"})
    image = photo(40, 52)
    a = np.asarray(faststyle.stylize(image, tiny_model_path), np.float32)
    b = np.asarray(faststyle.stylize(image, other), np.float32)
    mixed = faststyle.blend({str(tiny_model_path): 3, str(other): 1})
    assert mixed.name == "tiny75+other25"
    out = np.asarray(faststyle.stylize(image, mixed), np.float32)
    assert np.abs(out - (0.75 * a + 0.25 * b)).max() <= 1.0
    assert np.abs(a - b).mean() > 5  # two different pictures, so the test means something
    assert faststyle.api.parse_blend("wave:0.6, the_scream:0.4") == {"wave": 0.6, "the_scream": 0.4}
    with pytest.raises(faststyle.FaststyleError, match="not a number"):
        faststyle.api.parse_blend("wave:lots,the_scream:0.4")


def test_one_way_to_load_a_style_with_one_default_device(tiny_model_path, monkeypatch):
    """load_style, blend, stylize and the command line share options and defaults (issue 27)."""
    import inspect

    import faststyle
    from faststyle import api, cli, runtime

    for fn in (api.load_style, api.blend, api.as_model, api.stylize):
        params = inspect.signature(fn).parameters
        assert params["device"].default == runtime.DEFAULT_DEVICE and params["threads"].default is None
    assert cli.DEVICE_CHOICES == [runtime.DEFAULT_DEVICE, "cpu", *runtime.DEVICES]
    seen = []
    real = runtime.StyleModel.load

    def load(path, threads=None, device=runtime.DEFAULT_DEVICE):
        seen.append((threads, device))
        return real(path, threads, device)

    monkeypatch.setattr(runtime.StyleModel, "load", load)
    api._cached_style.cache_clear()
    faststyle.stylize(np.zeros((16, 16, 3), np.uint8), str(tiny_model_path), device="cpu", threads=1)
    assert seen == [(1, "cpu")]  # a style given by path keeps the options it was asked with
