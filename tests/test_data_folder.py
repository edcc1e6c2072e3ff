"""Image folders (one sub-folder per class) read with Pillow: PNG and JPEG, resizing, channels, broken files."""
import numpy as np
import pytest
from PIL import Image

from glassnet.data import image_folder, load_data, load_image


def _rgb(seed, h=6, w=5):
    """A smooth random-coloured gradient (JPEG keeps it within a few levels)."""
    colour = np.random.default_rng(seed).integers(0, 150, 3)
    ramp = 8 * np.arange(h)[:, None, None] + 6 * np.arange(w)[None, :, None]
    return (colour + ramp).astype(np.uint8)


def make_folder(root, per_class=10, classes=("cat", "dog"), fmt="PNG"):
    """``per_class`` images per class; returns {path: HWC pixels}. Even images PNG, odd ones ``fmt``."""
    written = {}
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = _rgb(100 * c + i)
            suffix = ".png" if i % 2 == 0 or fmt == "PNG" else ".jpg"
            path = root / name / f"img{i:02d}{suffix}"
            if suffix == ".png":
                Image.fromarray(pixels).save(path, format="PNG")
            else:
                Image.fromarray(pixels).save(path, format="JPEG", quality=95, subsampling=0)
            written[path] = pixels
    return written


def test_load_image_gives_rgb_chw_bytes_or_one_gray_channel(tmp_path):
    pixels = _rgb(0)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    rgb = load_image(tmp_path / "a.png")
    assert rgb.shape == (3, 6, 5) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, pixels.transpose(2, 0, 1))
    gray = load_image(tmp_path / "a.png", channels=1)
    np.testing.assert_array_equal(gray[0], np.asarray(Image.fromarray(pixels).convert("L")))


def test_load_image_resizes_to_height_width(tmp_path):
    Image.fromarray(_rgb(0)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", size=(4, 8)).shape == (3, 4, 8)
    assert load_image(tmp_path / "a.png", size=3, channels=1).shape == (1, 3, 3)


def test_image_folder_reads_png_and_jpeg_with_sorted_class_names(tmp_path):
    written = make_folder(tmp_path, fmt="JPEG")
    splits = image_folder(tmp_path, seed=0)
    assert splits.classes == ["cat", "dog"] and splits.input_shape == (3, 6, 5)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (14, 2, 4)
    for part in (splits.train, splits.val, splits.test):
        assert sorted(np.bincount(part.y).tolist()) == [len(part) // 2] * 2  # stratified
    everything = np.concatenate([splits.train.x, splits.val.x, splits.test.x])
    originals = splits.normalize(np.stack([p.transpose(2, 0, 1) for p in written.values()]))
    # each stored image is a written one: PNGs exactly (10 of them), JPEGs within a few grey levels
    levels = np.abs(everything[:, None] - originals[None]) * splits.std[:, None, None] * 255
    closest = levels.max(axis=(2, 3, 4)).min(axis=1)
    assert np.sum(closest < 1e-3) >= 10 and closest.max() < 6


def test_image_folder_resizes_to_the_first_image_size_by_default(tmp_path):
    make_folder(tmp_path)
    Image.fromarray(_rgb(9, h=12, w=10)).save(tmp_path / "dog" / "zz_big.png")
    splits = image_folder(tmp_path, val_fraction=0.2)
    assert splits.input_shape == (3, 6, 5) and splits.train.x.shape[1:] == (3, 6, 5)
    assert image_folder(tmp_path, size=(8, 7), channels=1, val_fraction=0.2).input_shape == (1, 8, 7)


def test_image_folder_is_deterministic_per_seed(tmp_path):
    make_folder(tmp_path)
    a, b = image_folder(tmp_path, seed=3), image_folder(tmp_path, seed=3)
    np.testing.assert_array_equal(a.test.x, b.test.x)


def test_broken_image_raises_value_error_naming_the_file(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="broken.png: cannot read image"):
        image_folder(tmp_path)


def test_truncated_jpeg_raises_value_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(_rgb(0, 32, 32)).save(path, format="JPEG")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.jpg"):
        load_image(path)


def test_class_folder_without_images_is_rejected(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no"):
        image_folder(tmp_path)


def test_folder_dataset_needs_a_root_and_rejects_other_channel_counts(tmp_path):
    with pytest.raises(ValueError, match="root"):
        load_data("folder")
    make_folder(tmp_path)
    with pytest.raises(ValueError, match="channels"):
        load_data("folder", root=tmp_path, channels=2)
