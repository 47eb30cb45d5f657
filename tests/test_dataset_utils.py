"""Dataset utilities: folders, time series, splits, image files, get_file — against Keras
(its grain-format outputs and pure-Python helpers run without TensorFlow) or by hand."""
import io
import os
import tarfile
import wave

import numpy as np
import pytest

import trine
from trine import utils

PIL = pytest.importorskip("PIL.Image")


# ---------------------------------------------------------------------------- time series
@pytest.mark.parametrize("kw", [
    dict(sequence_length=5, batch_size=4),
    dict(sequence_length=3, sequence_stride=2, sampling_rate=3, batch_size=3),
    dict(sequence_length=4, start_index=3, end_index=40, batch_size=5),
])
def test_timeseries_matches_keras_grain_format(kw):
    import keras
    data = np.arange(50 * 2, dtype="float32").reshape(50, 2)
    targets = np.arange(50, dtype="int32") * 10
    ours = utils.timeseries_dataset_from_array(data, targets, **kw)
    ref = list(keras.utils.timeseries_dataset_from_array(data, targets, format="grain", **kw))
    assert len(ours) == len(ref)
    for i, (rx, ry) in enumerate(ref):
        x, y = ours[i]
        np.testing.assert_array_equal(x, np.asarray(rx))
        np.testing.assert_array_equal(y, np.asarray(ry))


def test_timeseries_windows_shuffle_and_errors():
    data = np.arange(20)
    ds = utils.timeseries_dataset_from_array(data, None, 4, batch_size=None)
    assert len(ds) == 17 and list(ds[3]) == [3, 4, 5, 6]
    a = utils.timeseries_dataset_from_array(data, data, 4, shuffle=True, seed=7, batch_size=None)
    b = utils.timeseries_dataset_from_array(data, data, 4, shuffle=True, seed=7, batch_size=None)
    firsts = [a[i][0][0] for i in range(len(a))]
    assert firsts == [b[i][0][0] for i in range(len(b))] and sorted(firsts) == list(range(17))
    assert all(a[i][1] == a[i][0][0] for i in range(len(a)))  # target at the window start
    with pytest.raises(ValueError, match="sampling_rate must be > 0"):
        utils.timeseries_dataset_from_array(data, None, 4, sampling_rate=0)
    with pytest.raises(ValueError, match="start_index must be lower"):
        utils.timeseries_dataset_from_array(data, None, 4, start_index=25)
    with pytest.raises(ValueError, match="no window of sequence_length=30"):
        utils.timeseries_dataset_from_array(data, None, 30)


def test_timeseries_dataset_trains_like_its_windows_as_arrays():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(70, 3)).astype("float32")
    ds = utils.timeseries_dataset_from_array(series, series[:, 0], 6, batch_size=16)
    x = np.stack([series[i:i + 6] for i in range(65)])
    y = series[:65, 0]

    def model():
        trine.utils.set_random_seed(1)
        m = trine.Sequential([trine.layers.Input((6, 3)), trine.layers.Flatten(),
                              trine.layers.Dense(1)])
        m.compile("sgd", "mse")
        return m

    m1, m2 = model(), model()
    h1 = m1.fit(x, y, batch_size=16, shuffle=False, epochs=2, verbose=0)
    h2 = m2.fit(ds, shuffle=False, epochs=2, verbose=0)
    assert h1.history == h2.history


# ---------------------------------------------------------------------------- split
def test_split_dataset_sizes_and_shuffle():
    x, y = np.arange(10), np.arange(10) * 2
    (lx, ly), (rx, ry) = utils.split_dataset((x, y), left_size=0.8)
    assert list(lx) == list(range(8)) and list(ry) == [16, 18]
    left, right = utils.split_dataset(x, right_size=3, shuffle=True, seed=5)
    order = list(range(10))
    __import__("random").Random(5).shuffle(order)  # Keras: random.seed(seed); shuffle
    assert list(left) + list(right) == order[:7] + order[7:]
    with pytest.raises(ValueError, match="pass left_size or right_size"):
        utils.split_dataset(x)
    with pytest.raises(ValueError, match="left_size must be an integer in"):
        utils.split_dataset(x, left_size=10)
    with pytest.raises(ValueError, match="different lengths"):
        utils.split_dataset((x, y[:3]), left_size=2)


# ---------------------------------------------------------------------------- folders
def _png(path, value, size=(12, 8), mode="RGB"):
    arr = (np.arange(size[0] * size[1] * 3).reshape(size[0], size[1], 3) * value % 256)
    PIL.fromarray(arr.astype("uint8"), "RGB").convert(mode).save(path)


@pytest.fixture
def image_dir(tmp_path):
    for c, n in (("cat", 5), ("dog", 4)):
        (tmp_path / c / "sub").mkdir(parents=True)
        for i in range(n):
            where = tmp_path / c / ("sub" if i == 0 else "") / f"img{i}.png"
            _png(where, 3 + i + (10 if c == "dog" else 0))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    return tmp_path


def test_image_folder_indexes_like_keras(image_dir):
    from keras.src.utils.dataset_utils import index_directory
    ours = utils.image_dataset_from_directory(image_dir, image_size=(6, 4), seed=3,
                                              batch_size=4, verbose=False)
    paths, labels, names = index_directory(str(image_dir), "inferred",
                                           (".bmp", ".gif", ".jpeg", ".jpg", ".png"),
                                           shuffle=True, seed=3)
    assert ours.class_names == names == ["cat", "dog"]
    assert [os.path.normpath(p) for p in ours.file_paths] == [os.path.normpath(p) for p in paths]
    np.testing.assert_array_equal(ours.labels, labels)
    assert len(ours) == 3
    x, y = ours[0]
    assert x.shape == (4, 6, 4, 3) and x.dtype == np.float32 and y.dtype == np.int32


def test_image_folder_pixels_match_keras_grain_format(image_dir):
    import keras
    ours = utils.image_dataset_from_directory(image_dir, image_size=(6, 4), shuffle=False,
                                              batch_size=None, label_mode="categorical",
                                              verbose=False)
    ref = list(keras.utils.image_dataset_from_directory(
        str(image_dir), image_size=(6, 4), shuffle=False, batch_size=None,
        label_mode="categorical", format="grain", verbose=False))
    assert len(ref) == len(ours) == 9
    for i, (rx, ry) in enumerate(ref):
        x, y = ours[i]
        np.testing.assert_allclose(x, np.asarray(rx), atol=1e-3)
        np.testing.assert_array_equal(y, np.asarray(ry))


def test_image_folder_split_grayscale_crop_and_fit(image_dir):
    train, val = utils.image_dataset_from_directory(
        image_dir, image_size=(4, 4), color_mode="grayscale", validation_split=0.34,
        subset="both", seed=1, batch_size=2, crop_to_aspect_ratio=True, label_mode="binary",
        verbose=False)
    assert len(train.file_paths) == 6 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    x, y = train[0]
    assert x.shape == (2, 4, 4, 1) and y.shape == (2, 1) and y.dtype == np.float32
    trine.utils.set_random_seed(0)
    m = trine.Sequential([trine.layers.Input((4, 4, 1)), trine.layers.Flatten(),
                          trine.layers.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy")
    h = m.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(h.history["val_loss"]) == 2


def test_image_folder_bad_inputs(image_dir, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    (empty / "a").mkdir()
    with pytest.raises(ValueError, match="No files found in directory"):
        utils.image_dataset_from_directory(empty, verbose=False)
    flat = tmp_path_factory.mktemp("flat")
    _png(flat / "x.png", 3)
    with pytest.raises(ValueError, match="no class sub-folders"):
        utils.image_dataset_from_directory(flat, verbose=False)
    with pytest.raises(ValueError, match="len\\(labels\\) is 2 but 1 files"):
        utils.image_dataset_from_directory(flat, labels=[0, 1], verbose=False)
    with pytest.raises(ValueError, match="pass a seed"):
        utils.image_dataset_from_directory(image_dir, validation_split=0.2,
                                           subset="training", verbose=False)
    with pytest.raises(ValueError, match="label_mode='binary' needs exactly 2"):
        (image_dir / "eel").mkdir()
        _png(image_dir / "eel" / "e.png", 5)
        utils.image_dataset_from_directory(image_dir, label_mode="binary", verbose=False)
    (image_dir / "eel" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = utils.image_dataset_from_directory(image_dir, shuffle=False, batch_size=None,
                                            verbose=False)
    bad = ds.file_paths.index(str(image_dir / "eel" / "broken.png"))
    with pytest.raises(ValueError, match="broken.png' is not a readable image"):
        ds[bad]


def test_text_folder(tmp_path):
    for c, texts in (("neg", ["bad", "awful film"]), ("pos", ["good", "great", "fine"])):
        (tmp_path / c).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / c / f"{i}.txt").write_text(t)
    ds = utils.text_dataset_from_directory(tmp_path, shuffle=False, batch_size=2, max_length=4,
                                           verbose=False)
    assert ds.class_names == ["neg", "pos"] and len(ds) == 3
    x, y = ds[0]
    assert list(x) == ["bad", "awfu"] and list(y) == [0, 0]
    assert list(ds[2][0]) == ["fine"]


def _wav(path, samples, rate=8000, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())


def test_audio_folder_pads_and_scales(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _wav(tmp_path / "a" / "1.wav", [0, 16384, -32768])
    _wav(tmp_path / "b" / "2.wav", [100] * 5)
    ds = utils.audio_dataset_from_directory(tmp_path, shuffle=False, batch_size=2,
                                            verbose=False)
    x, y = ds[0]
    assert x.shape == (2, 5, 1) and list(y) == [0, 1]
    np.testing.assert_array_equal(x[0, :, 0], [0, 0.5, -1, 0, 0])
    ds = utils.audio_dataset_from_directory(tmp_path, shuffle=False, batch_size=None,
                                            output_sequence_length=2, verbose=False)
    assert ds[1][0].shape == (2, 1)
    ds = utils.audio_dataset_from_directory(tmp_path, sampling_rate=16000, shuffle=False,
                                            verbose=False)
    with pytest.raises(ValueError, match="sampled at 8000 Hz"):
        ds[0]


# ---------------------------------------------------------------------------- image files
def test_image_file_functions_match_keras(tmp_path):
    import keras
    rng = np.random.default_rng(0)
    arr = rng.uniform(-3, 5, size=(7, 9, 3)).astype("float32")
    for scale in (True, False):
        a = np.asarray(utils.array_to_img(arr if scale else np.abs(arr) * 20, scale=scale))
        b = np.asarray(keras.utils.array_to_img(arr if scale else np.abs(arr) * 20,
                                                scale=scale))
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "x.png"
    utils.save_img(path, arr)
    keras.utils.save_img(tmp_path / "k.png", arr)
    assert path.read_bytes() == (tmp_path / "k.png").read_bytes()
    for kw in ({}, dict(color_mode="grayscale"), dict(target_size=(4, 5)),
               dict(target_size=(3, 3), keep_aspect_ratio=True, interpolation="bilinear")):
        ours = utils.img_to_array(utils.load_img(path, **kw))
        ref = keras.utils.img_to_array(keras.utils.load_img(path, **kw))
        np.testing.assert_array_equal(ours, ref)
        assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(utils.img_to_array(utils.load_img(path), "channels_first"),
                                  keras.utils.img_to_array(keras.utils.load_img(path),
                                                           "channels_first"))
    with pytest.raises(ValueError, match="rank 3"):
        utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="color_mode must be"):
        utils.load_img(path, color_mode="cmyk")


# ---------------------------------------------------------------------------- get_file
def test_get_file_uses_cache_checks_hash_and_explains_offline(tmp_path, monkeypatch):
    import hashlib
    monkeypatch.setenv("TRINE_HOME", str(tmp_path / "home"))
    offline = "http://127.0.0.1:9/data/thing.bin"  # the discard port: nothing listens
    with pytest.raises(OSError) as info:
        utils.get_file(origin=offline)
    cached = tmp_path / "home" / "datasets" / "thing.bin"
    assert "thing.bin" in str(info.value) and str(cached) in str(info.value)
    cached.write_bytes(b"payload")
    assert utils.get_file(origin=offline) == str(cached)  # no network needed
    sha = hashlib.sha256(b"payload").hexdigest()
    assert utils.get_file(origin=offline, file_hash=sha) == str(cached)
    with pytest.raises(OSError, match="could not download"):  # stale copy: fetch again
        utils.get_file(origin=offline, file_hash="0" * 64)
    md5 = hashlib.md5(b"payload").hexdigest()
    assert utils.get_file("thing.bin", offline, md5_hash=md5) == str(cached)


def test_get_file_extracts_tar_and_refuses_escaping_members(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("pkg/a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "pkg.tar.gz").write_bytes(buf.getvalue())
    out = utils.get_file("pkg.tar.gz", "http://127.0.0.1:9/pkg.tar.gz", extract=True,
                         cache_dir=tmp_path)
    assert open(os.path.join(out, "pkg", "a.txt")).read() == "hello"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "datasets" / "evil.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="outside"):
        utils.get_file("evil.tar.gz", "http://127.0.0.1:9/evil.tar.gz", extract=True,
                       cache_dir=tmp_path)
    assert not (tmp_path / "evil.txt").exists()
