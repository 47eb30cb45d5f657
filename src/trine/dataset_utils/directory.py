"""Folders of files as datasets: `image_dataset_from_directory`, `text_dataset_from_directory`,
`audio_dataset_from_directory` (Keras's `keras.utils` functions).

Files are indexed as Keras does (class = sub-folder, sorted; files sorted within a walk; one
shuffle of the whole list with `seed`; the validation split taken from the end), so the same
folder gives the same files, labels and split as Keras. They return a `FileDataset`, a
`PyDataset` rather than a grain pipeline: it needs no optional library, decodes lazily in
`workers` threads while fit trains, and carries `class_names` and `file_paths` as Keras's
datasets do. Decoding errors name the file.
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from trine.dataset_utils.batched_items import BatchedItems

__all__ = ["FileDataset", "audio_dataset_from_directory", "image_dataset_from_directory",
           "text_dataset_from_directory"]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _walk_files(directory, follow_links, formats):
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda w: w[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, what="dataset_from_directory", verbose=True):
    """(file paths, integer labels or None, class names) of a folder, in Keras's order."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{what}: directory {directory!r} does not exist or is not a folder.")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names) <= set(subdirs):
                raise ValueError(
                    f"{what}: class_names {list(class_names)} do not match the sub-folders of "
                    f"{directory!r}: expected names among {subdirs}.")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError(
                f"{what}: class_names can only be given with labels='inferred' (received "
                f"labels={'None' if labels is None else 'a list'}); with a list of labels the "
                "class names are its sorted distinct values.")
        subdirs = [""]
    paths, label_ids = [], []
    for i, sub in enumerate(subdirs):
        found = list(_walk_files(os.path.join(directory, sub), follow_links, formats))
        paths += found
        label_ids += [i] * len(found)
    if labels == "inferred":
        label_arr = np.asarray(label_ids, np.int32)
        names = subdirs
        stray = [f for f in os.listdir(directory)
                 if f.lower().endswith(formats) and os.path.isfile(os.path.join(directory, f))]
        if stray and not paths:
            raise ValueError(
                f"{what}: {directory!r} holds {len(stray)} files directly but no class "
                "sub-folders; with labels='inferred' put each class's files in a sub-folder, "
                "or pass labels=None (or a list of labels).")
    elif labels is None:
        label_arr, names = None, None
    else:
        if isinstance(labels, str) or not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(f"{what}: labels must be 'inferred', None, or a list/tuple of "
                             f"labels, received {labels!r}.")
        if len(labels) != len(paths):
            raise ValueError(
                f"{what}: len(labels) is {len(labels)} but {len(paths)} files were found in "
                f"{directory!r}; pass one label per file, in the sorted order of the paths.")
        label_arr = np.asarray(labels)
        names = [str(v) for v in sorted(set(np.asarray(labels).tolist()))]
    if not paths:
        raise ValueError(f"No files found in directory {directory!r}. Allowed formats: "
                         f"{formats}.")
    if verbose:
        print(f"Found {len(paths)} files" + (
            "." if label_arr is None else f" belonging to {len(names)} classes."))
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if label_arr is not None:
            np.random.RandomState(seed).shuffle(label_arr)
    return paths, label_arr, names


def _check_split(validation_split, subset, shuffle, seed, what):
    if validation_split is None and subset is not None:
        raise ValueError(f"{what}: subset={subset!r} needs validation_split.")
    if validation_split is not None:
        if not 0 < validation_split < 1:
            raise ValueError(f"{what}: validation_split must be in (0, 1), received "
                             f"{validation_split!r}.")
        if subset not in ("training", "validation", "both"):
            raise ValueError(f"{what}: with validation_split, subset must be 'training', "
                             f"'validation' or 'both', received {subset!r}.")
        if shuffle and seed is None:
            raise ValueError(f"{what}: with validation_split and shuffle=True pass a seed, so "
                             "the training and validation subsets do not overlap.")


def _split(paths, labels, validation_split, subset, verbose):
    n_val = int(validation_split * len(paths))
    parts = {"training": (paths[:len(paths) - n_val],
                          None if labels is None else labels[:len(paths) - n_val]),
             "validation": (paths[len(paths) - n_val:],
                            None if labels is None else labels[len(paths) - n_val:])}
    if verbose:
        for name in ("training", "validation") if subset == "both" else (subset,):
            print(f"Using {len(parts[name][0])} files for {name}.")
    return parts


def _encode_labels(labels, label_mode, num_classes, what):
    if label_mode == "int":
        return labels.astype(np.int32)
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels]
    if label_mode == "binary":
        if num_classes != 2:
            raise ValueError(f"{what}: label_mode='binary' needs exactly 2 classes, found "
                             f"{num_classes}. Use label_mode='categorical' or 'int'.")
        return labels.astype(np.float32)[:, None]
    raise ValueError(f"{what}: label_mode must be 'int', 'categorical', 'binary' or None, "
                     f"received {label_mode!r}.")


class FileDataset(BatchedItems):
    """Files decoded on demand into batches (`(x, label)` or `x`), a PyDataset fit consumes.

    Attributes:
        file_paths: the files, in dataset order. class_names: the class names (or None).
    """

    def __init__(self, file_paths: List[str], labels: Optional[np.ndarray], load: Callable,
                 batch_size: Optional[int], class_names: Optional[List[str]],
                 collate: Optional[Callable] = None, workers: int = 2):
        super().__init__(workers=workers)
        self.file_paths, self.labels, self._load = list(file_paths), labels, load
        self.batch_size, self.class_names = batch_size, class_names
        self._collate = collate or (lambda items: np.stack(items))

    def _items(self):
        return self.file_paths

    def _one(self, index: int):
        x = self._load(self.file_paths[index])
        return x if self.labels is None else (x, self.labels[index])

    def _batch(self, positions: slice):
        x = self._collate([self._load(p) for p in self.file_paths[positions]])
        return (x,) if self.labels is None else (x, self.labels[positions])


def _build(what, directory, labels, label_mode, class_names, formats, batch_size, shuffle,
           seed, validation_split, subset, follow_links, verbose, load, collate=None):
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(f"{what}: labels must be 'inferred', None or a list/tuple, received "
                         f"{labels!r}.")
    if labels is None or label_mode is None:
        label_mode = None
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"{what}: batch_size must be a positive integer or None, received "
                         f"{batch_size!r}.")
    _check_split(validation_split, subset, shuffle, seed, what)
    paths, ids, names = index_directory(directory, labels, formats, class_names, shuffle, seed,
                                        follow_links, what, verbose)
    if label_mode is not None and names is not None:
        if labels != "inferred":  # a user list: classes are its sorted distinct values
            lookup = {v: i for i, v in enumerate(sorted(set(np.asarray(labels).tolist())))}
            ids = np.asarray([lookup[v] for v in np.asarray(ids).tolist()], np.int32)
        ids = _encode_labels(ids, label_mode, len(names), what)
    elif label_mode is None:
        ids = None

    def make(p, lab):
        return FileDataset(p, lab, load, batch_size, names, collate)

    if validation_split is None:
        return make(paths, ids)
    parts = _split(paths, ids, validation_split, subset, verbose)
    if subset == "both":
        return make(*parts["training"]), make(*parts["validation"])
    return make(*parts[subset])


# ---------------------------------------------------------------------------- images
def _resize(img, size, interpolation, crop, pad):
    """Resize an HWC float image as Keras's `ops.image.resize` (no antialiasing)."""
    import jax
    h, w = img.shape[:2]
    th, tw = size
    if crop:
        ch, cw = min(h, (w * th) // tw), min(w, (h * tw) // th)
        top, left = (h - ch) // 2, (w - cw) // 2
        img = img[top:top + ch, left:left + cw]
    elif pad:
        ph, pw = max(h, (w * th + tw - 1) // tw), max(w, (h * tw + th - 1) // th)
        top, left = (ph - h) // 2, (pw - w) // 2
        out = np.zeros((ph, pw, img.shape[2]), img.dtype)
        out[top:top + h, left:left + w] = img
        img = out
    if img.shape[:2] == (th, tw):
        return np.asarray(img, np.float32)
    method = {"bilinear": "linear", "bicubic": "cubic", "lanczos3": "lanczos3",
              "lanczos5": "lanczos5", "nearest": "nearest"}[interpolation]
    return np.asarray(jax.image.resize(img, (th, tw, img.shape[2]), method, antialias=False),
                      np.float32)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """Images in class sub-folders as a dataset of `(images, labels)` batches.

    Args follow Keras: `labels` "inferred" (from sub-folders), None, or a list; `label_mode`
    "int", "categorical", "binary" or None; `color_mode` "grayscale", "rgb" or "rgba";
    `image_size` (height, width) to resize to; `batch_size` None for single images;
    `validation_split` with `subset` ("training", "validation", "both") and `seed`.
    Images are float32 in [0, 255], shape (batch, height, width, channels).

    Returns:
        A `FileDataset` (a PyDataset with `class_names` and `file_paths`), or a pair of them
        for `subset="both"`.

    Raises:
        ValueError: for bad arguments, a folder without images, mismatched labels, and (when
            a batch is read) a file that is not an image, naming it.

    Example:
        >>> train, val = image_dataset_from_directory("photos", validation_split=0.2,
        ...     subset="both", seed=1, image_size=(64, 64))  # doctest: +SKIP
        >>> model.fit(train, validation_data=val)  # doctest: +SKIP
    """
    from trine.config import standardize_data_format
    from trine.dataset_utils.images import img_to_array, load_img
    what = "image_dataset_from_directory"
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}.get(color_mode)
    if channels is None:
        raise ValueError(f"{what}: color_mode must be 'grayscale', 'rgb' or 'rgba', received "
                         f"{color_mode!r}.")
    if interpolation not in ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"):
        raise ValueError(f"{what}: interpolation must be 'bilinear', 'nearest', 'bicubic', "
                         f"'lanczos3' or 'lanczos5', received {interpolation!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f"{what}: pass crop_to_aspect_ratio or pad_to_aspect_ratio, not both.")
    size = tuple(int(s) for s in image_size)
    channels_first = standardize_data_format(data_format) == "channels_first"

    def load(path):
        img = img_to_array(load_img(path, color_mode=color_mode), "channels_last", "float32")
        img = _resize(img, size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
        return img.transpose(2, 0, 1) if channels_first else img

    return _build(what, directory, labels, label_mode, class_names, IMAGE_FORMATS, batch_size,
                  shuffle, seed, validation_split, subset, follow_links, verbose, load)


# ---------------------------------------------------------------------------- texts
def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """`.txt` files in class sub-folders as `(texts, labels)` batches; texts are NumPy arrays
    of Python strings (object dtype), cut to `max_length` characters when given.

    Returns:
        A `FileDataset` (or a pair for `subset="both"`).

    Raises:
        ValueError: as `image_dataset_from_directory`.
    """
    def load(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return text[:max_length] if max_length is not None else text

    def collate(items):
        out = np.empty((len(items),), object)
        out[:] = items
        return out

    return _build("text_dataset_from_directory", directory, labels, label_mode, class_names,
                  (".txt",), batch_size, shuffle, seed, validation_split, subset, follow_links,
                  verbose, load, collate)


# ---------------------------------------------------------------------------- audio
def read_wav(path) -> Tuple[np.ndarray, int]:
    """A PCM WAV file as float32 (samples, channels) in [-1, 1), and its sampling rate."""
    import wave
    try:
        with wave.open(os.fspath(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{os.fspath(path)!r} is not a readable PCM WAV file ({e}).") from e
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dt = np.int16 if width == 2 else np.int32
        data = np.frombuffer(raw, dt).astype(np.float32) / float(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{os.fspath(path)!r}: {8 * width}-bit WAV samples are not supported; "
                         "use 8-, 16- or 32-bit PCM.")
    return data.reshape(-1, channels), rate


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, batch_size=32, sampling_rate=None,
                                 output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None,
                                 follow_links=False, verbose=True):
    """`.wav` files in class sub-folders as `(audio, labels)` batches of float32
    (batch, samples, channels), zero-padded to the batch's longest clip or cut / padded to
    `output_sequence_length`.

    Args follow Keras. `sampling_rate` is checked against each file (trine does not
    resample); `ragged=True` is not supported (NumPy has no ragged arrays).

    Returns:
        A `FileDataset` (or a pair for `subset="both"`).

    Raises:
        ValueError: as `image_dataset_from_directory`; a file whose rate differs from
            `sampling_rate`; `ragged=True`.
    """
    what = "audio_dataset_from_directory"
    if ragged:
        raise ValueError(f"{what}: ragged=True is not supported (batches are NumPy arrays); "
                         "pass output_sequence_length or let clips be zero-padded.")
    if output_sequence_length is not None and int(output_sequence_length) < 1:
        raise ValueError(f"{what}: output_sequence_length must be a positive integer, received "
                         f"{output_sequence_length!r}.")

    def load(path):
        data, rate = read_wav(path)
        if sampling_rate is not None and rate != int(sampling_rate):
            raise ValueError(f"{what}: {path!r} is sampled at {rate} Hz, not sampling_rate="
                             f"{sampling_rate}; trine does not resample: convert the file.")
        if output_sequence_length is not None:
            n = int(output_sequence_length)
            data = data[:n]
            if len(data) < n:
                data = np.concatenate([data, np.zeros((n - len(data), data.shape[1]),
                                                      np.float32)])
        return data

    def collate(items):
        longest = max(len(a) for a in items)
        out = np.zeros((len(items), longest, items[0].shape[1]), np.float32)
        for i, a in enumerate(items):
            out[i, :len(a)] = a
        return out

    return _build(what, directory, labels, label_mode, class_names, (".wav",), batch_size,
                  shuffle, seed, validation_split, subset, follow_links, verbose, load, collate)
