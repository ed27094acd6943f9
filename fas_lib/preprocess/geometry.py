"""Pure geometry of the face alignment: templates, point conversions, similarity, crop matrices.

No dlib here: :mod:`fas_lib.preprocess.align` runs the detector and the predictors and uses these
functions to turn their points into crops; the SynthSpoof generator and its ground truth use them
too.

dlib's 5-point model gives different points from the paper's: the two corners of each eye and
the base of the nose (subnasale). In image coordinates, for a frontal face, they are ordered

====  ==========================================================
0     outer corner of the eye on the image's right (subject's left eye)
1     inner corner of that eye
2     outer corner of the eye on the image's left (subject's right eye)
3     inner corner of that eye
4     base of the nose (dlib 68-point index 33)
====  ==========================================================

We turn them into the paper's kind of points as follows (:func:`dlib5_to_alignment_points`):
each eye centre is the mean of its two corners (the paper's eye centres), and the nose base
stands in for the nose tip; dlib's 5-point model has no mouth corners. With ``landmarks="68"``
the paper's five points are taken literally from the 68-point model
(:func:`dlib68_to_paper5`: eye centres = mean of the six eye points, nose tip = 30, mouth
corners = 48 and 54). Either way a least-squares similarity transform
(:func:`similarity_transform`: rotation, uniform scale, translation) maps the points to a fixed
template, so the aligned face is upright (eyes level) and centred in the scale-1.0 crop.

Why the template makes the face upright and centred: both eye centres sit at the same height in
the template (``y = 0.33``), so the fitted rotation turns the eye line horizontal (head roll is
removed); the eyes are symmetric about ``x = 0.5`` and the nose point lies on that axis, so the
face's midline is the crop's vertical centre line; and the fixed eye distance (0.36 of the
crop side; 0.376 in the 68-point template, whose nose and mouth points also weigh in) fixes the
scale, so every face has the same size in the crop whatever its distance to the camera. The two
templates are matched so that a crop scale means the same face size in both modes (within 2 %
on the course's portraits; see :data:`TEMPLATE_PAPER5`). A similarity has four degrees of
freedom and three (or five) points over-determine it, so a single badly placed point cannot
distort the face (no shear, no anisotropic scaling).
The paper's mouth corners only add two more points to that least-squares fit.

Each crop is one affine warp of the original frame with the composed matrix of
:func:`crop_matrix`; :func:`padded_fraction` measures how much of it lies outside the frame and
:func:`box_in_crop` maps a face box into it.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Canonical positions, in units of the scale-1.0 crop (the aligned face box, [0, 1]^2), of the
#: points used for alignment with ``landmarks="5"``: image-left eye centre, image-right eye
#: centre, nose base. Chosen from dlib's detections on the two shipped portraits (eye distance
#: about 0.44 of dlib's box, nose base 0.74 eye-distances below the eyes), scaled so that
#: dlib's detection box (about 0.82 of the crop) lies inside the scale-1.0 crop, centred.
TEMPLATE_5 = np.array([[0.32, 0.33], [0.68, 0.33], [0.50, 0.596]], dtype=np.float64)

#: Canonical positions for ``landmarks="68"``: the paper's five points — image-left eye centre,
#: image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner. They are
#: where the 5-point alignment puts those points on the two shipped portraits (mean of
#: ``skimage.data.astronaut()`` and matplotlib's ``grace_hopper.jpg``, made left-right
#: symmetric), so that a crop scale gives the same face size in both modes: the similarity
#: scales of the two fits agree within 2 % on both portraits (a first template with the
#: 5-point eye distance 0.36 and the mouth at 0.65 made the 68-point face 3.5 % and 5.6 %
#: smaller). The 68-point eye distance is 0.376 because the mouth and nose pull the fit.
TEMPLATE_PAPER5 = np.array(
    [[0.312, 0.33], [0.688, 0.33], [0.50, 0.53], [0.325, 0.668], [0.675, 0.668]],
    dtype=np.float64,
)


def dlib5_to_alignment_points(pts5: np.ndarray) -> np.ndarray:
    """dlib's 5 points (see module docstring) -> [left eye centre, right eye centre, nose base]."""
    pts5 = np.asarray(pts5, dtype=np.float64)
    return np.stack([(pts5[2] + pts5[3]) / 2, (pts5[0] + pts5[1]) / 2, pts5[4]])


def dlib68_to_paper5(pts68: np.ndarray) -> np.ndarray:
    """dlib's 68 points -> the paper's 5 (eye centres, nose tip, mouth corners), left first."""
    pts68 = np.asarray(pts68, dtype=np.float64)
    return np.stack(
        [pts68[36:42].mean(0), pts68[42:48].mean(0), pts68[30], pts68[48], pts68[54]]
    )


def dlib68_to_dlib5(pts68: np.ndarray) -> np.ndarray:
    """dlib's 68 points -> dlib's 5-point convention (for ground truth and comparisons)."""
    pts68 = np.asarray(pts68, dtype=np.float64)
    return pts68[[45, 42, 36, 39, 33]]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping ``src`` points onto ``dst``.

    Args:
        src: ``(K, 2)`` points, K >= 2.
        dst: ``(K, 2)`` target points.

    Returns:
        ``(2, 3)`` affine matrix ``M`` with ``dst ~= M[:, :2] @ src + M[:, 2]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def crop_matrix(align_m: np.ndarray, scale: float, face_px: float, crop_size: int) -> np.ndarray:
    """Compose frame -> unit face box (``align_m``) with unit box -> crop pixels at ``scale``.

    The crop at scale ``s`` is the square of side ``s`` (in face-box units) centred on the box
    centre (0.5, 0.5), resampled to ``crop_size`` pixels.
    """
    k = crop_size / (scale * face_px)
    off = crop_size / 2 - k * face_px * 0.5
    m = align_m * (k * face_px)
    m[:, 2] += off
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a ``(2, 3)`` affine matrix (crop -> frame for a frame -> crop matrix)."""
    return cv2.invertAffineTransform(m)


def padded_fraction(m: np.ndarray, crop_size: int, frame_w: int, frame_h: int) -> float:
    """Share of a crop's area that falls outside the source frame (and so is padding).

    Args:
        m: ``(2, 3)`` frame -> crop matrix.
        crop_size: crop side in pixels.
        frame_w: frame width.
        frame_h: frame height.
    """
    inv = invert_affine(m)
    c = float(crop_size)
    corners = np.array([[0, 0], [c, 0], [c, c], [0, c]], dtype=np.float64)
    quad = corners @ inv[:, :2].T + inv[:, 2]
    if (quad >= 0).all() and (quad[:, 0] <= frame_w).all() and (quad[:, 1] <= frame_h).all():
        return 0.0  # fully inside (exactly 0, not float32 round-off of the intersection)
    frame = np.array([[0, 0], [frame_w, 0], [frame_w, frame_h], [0, frame_h]], dtype=np.float32)
    area_quad = abs(cv2.contourArea(quad.astype(np.float32)))
    if area_quad <= 0:
        return 1.0
    inter, _ = cv2.intersectConvexConvex(quad.astype(np.float32), frame)
    return float(np.clip(1.0 - inter / area_quad, 0.0, 1.0))


def box_in_crop(matrix: np.ndarray, box: np.ndarray, scale: float, crop_size: int) -> np.ndarray:
    """Map a frame box ``(l, t, r, b)`` into the pixel coordinates of the crop at ``scale``.

    Returns the ``(4, 2)`` corners; used to check that the scale-1.0 crop contains the face box.
    """
    m = crop_matrix(matrix, scale, 1.0, crop_size)
    l, t, r, b = box
    pts = np.array([[l, t], [r, t], [r, b], [l, b]], dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def check_box(box: np.ndarray | tuple | list) -> np.ndarray:
    """A face box ``(left, top, right, bottom)`` as a float64 array, validated.

    Raises:
        ValueError: not four finite numbers, or ``right <= left`` or ``bottom <= top``.
    """
    try:
        b = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"box must be four numbers (left, top, right, bottom), got {box!r}"
        ) from None
    if b.shape != (4,) or not np.isfinite(b).all():
        raise ValueError(f"box must be four finite numbers (left, top, right, bottom), got {box!r}")
    if b[2] <= b[0] or b[3] <= b[1]:
        raise ValueError(
            f"box must be (left, top, right, bottom) with right > left and bottom > top, got "
            f"{b.tolist()} (a face-location file's (x, y, w, h) must be converted first)"
        )
    return b
