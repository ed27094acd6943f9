"""The data a notebook or ``fas prepare`` asks for, in one call: generate if needed, then cache.

>>> from fas_lib.cache.prepare import get_cache
>>> cache = get_cache("synthspoof", smoke=True)   # doctest: +SKIP

:func:`get_cache` turns a notebook's ``DATASET`` / ``DATA_ROOT`` / ``SMOKE`` parameters into a
finished crop cache (:mod:`fas_lib.cache.reader`): SynthSpoof is generated first when no root is
given (:func:`fas_lib.synthspoof.generate`), then :func:`fas_lib.cache.build.build_cache` builds or
opens the cache. :func:`get_clips` does the same for a clip cache (T frames per video and
the clips of every split, :mod:`fas_lib.cache.clips`). :func:`smoke_synth_config` is the tiny
SynthSpoof of ``SMOKE`` runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from fas_lib import SCALES
from fas_lib.cache.build import DEFAULT_N_FRAMES, build_cache
from fas_lib.cache.modalities import check_modalities
from fas_lib.cache.reader import CropCache
from fas_lib.cache.views import protocol_view
from fas_lib.data.datasets import get_adapter
from fas_lib.synthspoof import SynthConfig, generate

if TYPE_CHECKING:  # fas_lib.cache.clips imports torch: loaded only when clips are asked for
    from fas_lib.cache.clips import ClipSet


def smoke_synth_config() -> SynthConfig:
    """The tiny SynthSpoof of ``SMOKE`` runs: 3 subjects (one per split), 3 sessions, one live
    video and every attack type per session, 2 frames per video (54 videos, 108 frames), so that
    the shift protocols p1, p2 and loao have both classes in every split.
    """
    return SynthConfig(n_subjects=3, frames_per_video=2, live_per_session=1, seed=3)


def dataset_root(dataset: str, root: str | Path | None, smoke: bool, workers: int,
                 progress: bool, modalities: tuple[str, ...] = ()) -> tuple[str, str | Path]:
    """The registry name of ``dataset`` and its root; SynthSpoof without a root is generated
    (with the depth / NIR ``modalities`` asked for).

    Raises:
        ValueError: ``root`` is ``None`` for a dataset other than SynthSpoof.
    """
    name = get_adapter(dataset, root if root is not None else ".").name
    if root is None:
        if name != "synthspoof":
            raise ValueError(
                f"dataset {dataset!r} needs its root folder (DATA_ROOT / --root); only "
                "'synthspoof' is generated when no root is given; see README 'Use a real dataset'"
            )
        config = smoke_synth_config() if smoke else SynthConfig()
        if modalities:
            config = dataclasses.replace(config, modalities=tuple(modalities))
        root = generate(config, workers=workers, progress=progress).root
    return name, root


def get_cache(
    dataset: str = "synthspoof",
    root: str | Path | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    smoke: bool = False,
    workers: int = 2,
    progress: bool = True,
    *,
    n_frames: int | None = None,
    every: int | None = None,
    scales: Iterable[float] = SCALES,
    out: str | Path | None = None,
    use_gt_boxes: bool = False,
    force: bool = False,
    modalities: Iterable[str] = (),
) -> CropCache:
    """The crop cache a notebook asks for with its ``DATASET`` / ``DATA_ROOT`` parameters.

    SynthSpoof with ``root=None`` is generated first (:func:`fas_lib.synthspoof.generate`,
    cached): the default :class:`~fas_lib.synthspoof.SynthConfig` (40 subjects, 8 frames per
    video), or :func:`smoke_synth_config` when ``smoke``. Every dataset is then cached with
    :data:`~fas_lib.cache.build.DEFAULT_N_FRAMES` (4) evenly spaced frames per video (smoke: 2
    per video, and for a real dataset only the first 2 videos of every split and attack type).
    A finished cache is opened, not rebuilt. SynthSpoof's shift protocols (``p1`` ... ``p4``,
    ``loao``; :mod:`fas_lib.data.shift`) are views of its ``standard`` cache: nothing is cut twice.

    Args:
        dataset: a name of :data:`fas_lib.data.datasets.DATASETS` (notebook ``DATASET``).
        root: the dataset root (notebook ``DATA_ROOT``); ``None`` only for SynthSpoof.
        protocol: protocol name (``None``: the dataset's default).
        fold: fold of protocols with folds.
        smoke: tiny data for quick runs.
        workers: processes for generation and caching.
        progress: progress bars and the skip report.
        n_frames: frames per video (``None``: as described above).
        every: keep every k-th frame instead of ``n_frames``.
        scales: crop scales to cache.
        out: cache folder (``None``: :func:`fas_lib.cache.build.default_cache_dir`).
        use_gt_boxes: SynthSpoof: the generator's face boxes instead of dlib's detector.
        force: rebuild the cache from scratch.
        modalities: ``("depth", "nir")`` or a part: also cache depth / NIR crops cut with the
            RGB alignment (:mod:`fas_lib.cache.modalities`); a generated SynthSpoof is
            generated with them.

    Raises:
        ValueError: ``root`` is ``None`` for a dataset other than SynthSpoof, or an unknown
            modality, or one the dataset has no files for.
        fas_lib.data.datasets.DatasetLayoutError: ``root`` does not hold the dataset's layout.
    """
    mods = check_modalities(modalities)
    name, root = dataset_root(dataset, root, smoke, workers, progress, mods)
    if n_frames is None and every is None:
        n_frames = 2 if smoke else DEFAULT_N_FRAMES
    limit = 2 if (smoke and name != "synthspoof") else None
    view = None
    if name == "synthspoof":  # shift protocols: a view of the standard protocol's cache
        adapter = get_adapter(name, root)
        view = adapter.resolve_protocol(protocol)
        fold = adapter.check_fold(view, fold)
        protocol = "standard"
    cache = build_cache(name, root, protocol, None if view else fold, out=out, scales=scales,
                        every=every, n_frames=n_frames, workers=workers, progress=progress,
                        use_gt_boxes=use_gt_boxes, max_videos_per_group=limit, force=force,
                        modalities=mods)
    return protocol_view(cache, view, fold) if view else cache


def get_clips(
    dataset: str = "synthspoof",
    root: str | Path | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    smoke: bool = False,
    workers: int = 2,
    progress: bool = True,
    *,
    t: int | None = None,
    min_frames: int | None = None,
    scales: Iterable[float] = SCALES,
    out: str | Path | None = None,
    use_gt_boxes: bool = False,
    force: bool = False,
    modalities: Iterable[str] = (),
) -> tuple[CropCache, dict[str, ClipSet]]:
    """The clip cache a notebook asks for: :func:`get_cache` with ``n_frames=t``, and the
    :class:`~fas_lib.cache.clips.ClipSet` of every split (:func:`fas_lib.cache.clips.clip_set`).

    Every video is decoded once and ``t`` evenly spaced frames are aligned and cached (built,
    resumed and opened like any crop cache); the clips index them. ``t=None``: 8
    (:data:`~fas_lib.cache.clips.DEFAULT_T`), or 2 when ``smoke`` (smoke SynthSpoof videos have 2
    frames). Other arguments as :func:`get_cache`; ``min_frames`` as
    :func:`fas_lib.cache.clips.clip_set`. With ``progress`` the clip report
    (:func:`fas_lib.cache.clips.clip_report`) is printed.

    Returns:
        ``(cache, {"train": ClipSet, "dev": ..., "test": ...})``; ``cache`` is the
        :class:`~fas_lib.cache.views.ProtocolView` for a SynthSpoof shift protocol.

    Raises:
        ValueError: bad ``t`` / ``min_frames``, or ``root`` is ``None`` for a real dataset.
    """
    from fas_lib.cache.clips import DEFAULT_T, check_clip_length, clip_report, clip_sets

    t, _ = check_clip_length((2 if smoke else DEFAULT_T) if t is None else t, min_frames)
    cache = get_cache(dataset, root, protocol, fold, smoke, workers, progress,
                      n_frames=t, scales=scales, out=out, use_gt_boxes=use_gt_boxes,
                      force=force, modalities=modalities)
    clips = clip_sets(cache, t, min_frames)
    if progress:
        print(clip_report(clips.values()))
    return cache, clips
