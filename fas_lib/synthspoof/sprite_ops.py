"""Image operations on face sprites: landmark-driven warps, blinks, recolouring, glasses, relief."""

from __future__ import annotations

import cv2
import numpy as np

#: 68-point index permutation under a horizontal mirror (iBUG 300-W convention).
MIRROR_68: np.ndarray = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # image-left eye <- image-right eye
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lips
)


def mirror_landmarks(lm68: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of the horizontally mirrored image (coordinates flipped, indices permuted)."""
    out = np.asarray(lm68, dtype=np.float64).copy()
    out[:, 0] = width - 1 - out[:, 0]
    return out[MIRROR_68]


def _border_anchors(w: int, h: int, n: int = 6) -> np.ndarray:
    xs = np.linspace(0, w - 1, n)
    ys = np.linspace(0, h - 1, n)
    pts = [(x, 0) for x in xs] + [(x, h - 1) for x in xs] + [(0, y) for y in ys[1:-1]]
    pts += [(w - 1, y) for y in ys[1:-1]]
    return np.array(pts, dtype=np.float64)


def landmark_warp(
    img: np.ndarray, src: np.ndarray, dst: np.ndarray, local: bool = False, step: int = 12
) -> np.ndarray:
    """Smooth thin-plate-spline warp moving the points ``src`` of ``img`` onto ``dst``.

    The backward displacement field is fitted exactly at ``dst`` (and zero at anchors on the
    image border, or for ``local=True`` also at every landmark that does not move), evaluated
    on a coarse grid and bilinearly upsampled, then applied with one :func:`cv2.remap`.

    Args:
        img: ``(H, W, C)`` uint8 image (any number of channels).
        src: ``(K, 2)`` points in ``img``.
        dst: ``(K, 2)`` where they must land.
        local: keep unmoved points fixed (for small expression warps).
        step: grid spacing in pixels for evaluating the spline.
    """
    from scipy.interpolate import RBFInterpolator

    h, w = img.shape[:2]
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    moved = np.linalg.norm(src - dst, axis=1) > 1e-6 if local else np.ones(len(src), bool)
    anchors = _border_anchors(w, h)
    ctrl = np.concatenate([dst[moved], src[~moved], anchors])
    disp = np.concatenate([src[moved] - dst[moved], np.zeros(((~moved).sum() + len(anchors), 2))])
    # Coincident control points (dlib's inner lips often are) make the spline singular.
    keep = np.ones(len(ctrl), bool)
    dist = np.linalg.norm(ctrl[:, None] - ctrl[None], axis=-1)
    for i in range(len(ctrl)):
        if keep[i]:
            dup = dist[i] < 0.5
            dup[: i + 1] = False
            keep &= ~dup
    ctrl, disp = ctrl[keep], disp[keep]
    gw, gh = max(2, w // step), max(2, h // step)
    # Grid points at the pixel-centre positions cv2.resize assumes, so upsampling is exact.
    gx = (np.arange(gw) + 0.5) * w / gw - 0.5
    gy = (np.arange(gh) + 0.5) * h / gh - 0.5
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    field = RBFInterpolator(ctrl, disp, kernel="thin_plate_spline")(grid).reshape(gh, gw, 2)
    field = cv2.resize(field.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    mx = field[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    my = field[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    chans = [img[..., i : i + 4] for i in range(0, img.shape[2], 4)]
    out = [
        cv2.remap(
            np.ascontiguousarray(c), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        for c in chans
    ]
    out = [o if o.ndim == 3 else o[..., None] for o in out]
    return np.concatenate(out, axis=2)


def _lid_curve(lm: np.ndarray, idx: list[int], xs: np.ndarray) -> np.ndarray:
    p = lm[idx]
    order = np.argsort(p[:, 0])
    return np.interp(xs, p[order, 0], p[order, 1])


def blink_warp(rgba: np.ndarray, lm68: np.ndarray, closure: float) -> tuple[np.ndarray, np.ndarray]:
    """Close both eyes by ``closure`` (0 open .. 1 shut), stretching the eyelid skin down.

    For each image column inside an eye, the skin between a line above the eye and the upper lid
    is stretched so that the upper lid reaches ``y_u + closure * (y_l - y_u)``; the rest of the
    eye below stays. The upper-lid landmarks (37, 38, 43, 44) move with it.

    Returns:
        ``(image, landmarks)`` of the blinking sprite.
    """
    out = rgba.copy()
    lm = np.asarray(lm68, dtype=np.float64).copy()
    h, w = rgba.shape[:2]
    for upper, lower in (
        ([36, 37, 38, 39], [39, 40, 41, 36]),
        ([42, 43, 44, 45], [45, 46, 47, 42]),
    ):
        pts = lm[upper + lower]
        ew = pts[:, 0].max() - pts[:, 0].min()
        x0 = int(np.floor(pts[:, 0].min())) - 1
        x1 = int(np.ceil(pts[:, 0].max())) + 2
        y_top = float(pts[:, 1].min() - 0.75 * ew)
        y0 = max(int(np.floor(y_top)) - 1, 0)
        y1 = min(int(np.ceil(pts[:, 1].max())) + 3, h)
        x0, x1 = max(x0, 0), min(x1, w)
        xs = np.arange(x0, x1, dtype=np.float64)
        yu = _lid_curve(lm, upper, xs)
        yl = np.maximum(_lid_curve(lm, lower, xs), yu)
        inside = (xs >= pts[:, 0].min()) & (xs <= pts[:, 0].max())
        yu2 = np.where(inside, yu + closure * (yl - yu), yu)
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]
        scale = (yu - y_top) / np.maximum(yu2 - y_top, 1e-6)
        src_y = np.where(
            (ys > y_top) & (ys <= yu2[None, :]), y_top + (ys - y_top) * scale[None, :], ys
        )
        map_x = np.broadcast_to(xs[None, :], src_y.shape).astype(np.float32)
        roi = cv2.remap(
            rgba, map_x, src_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        out[y0:y1, x0:x1] = roi
        for i in upper[1:3]:
            lm[i, 1] = lm[i, 1] + closure * (np.interp(lm[i, 0], xs, yl) - lm[i, 1])
    return out, lm


def recolour(
    rgb: np.ndarray,
    skin: np.ndarray,
    hair: np.ndarray,
    clothes: np.ndarray,
    params: dict,
    hair_palette: tuple,
) -> np.ndarray:
    """New skin tone, hair and clothing colours (in CIE Lab, texture kept), gamma and contrast."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32)  # 8-bit Lab, rescaled below
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    t = params["skin_tone"]
    skin_t = (74.0 - 44.0 * t, 11.0 + 6.0 * np.sin(np.pi * t), 16.0 + 9.0 * np.sin(np.pi * t))
    jobs = (
        (skin, skin_t, (None, 1.0, 1.0)),
        (hair, hair_palette[params["hair"]], (0.8, 0.5, 0.5)),
        (clothes, tuple(params["clothes_lab"]), (0.9, 0.4, 0.4)),
    )
    for mask, target, gains in jobs:
        x, y, w, h = cv2.boundingRect((mask > 2).astype(np.uint8))
        if w == 0 or h == 0:
            continue
        sub = np.ascontiguousarray(lab[y : y + h, x : x + w])
        msub = mask[y : y + h, x : x + w]
        mean = np.array(cv2.mean(sub, mask=(msub > 127).astype(np.uint8))[:3])
        g = np.array(
            [
                gains[0] if gains[0] is not None else target[0] / max(mean[0], 1.0),
                gains[1],
                gains[2],
            ]
        )
        # new = target + (lab - mean) * g, one affine colour transform
        m34 = np.hstack([np.diag(g), (np.asarray(target) - mean * g)[:, None]]).astype(np.float32)
        new = cv2.transform(sub, m34)
        wgt = msub.astype(np.float32) * (1.0 / 255.0)
        lab[y : y + h, x : x + w] = cv2.blendLinear(new, sub, wgt, 1.0 - wgt)
    lab[..., 0] *= 255.0 / 100.0
    lab[..., 1:] += 128.0
    out = cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_Lab2RGB)
    x = np.arange(256) / 255.0
    lut = np.clip(0.5 + (x ** params["gamma"] - 0.5) * params["contrast"], 0, 1)
    return cv2.LUT(out, (lut * 255 + 0.5).astype(np.uint8))


def draw_glasses(rgba: np.ndarray, lm68: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Draw a pair of spectacle frames (lenses, bridge, temples) on the RGB channels."""
    rgb = np.ascontiguousarray(rgba[..., :3])
    le, re = lm68[36:42].mean(0), lm68[42:48].mean(0)
    iod = float(np.linalg.norm(re - le))
    ang = float(np.degrees(np.arctan2(re[1] - le[1], re[0] - le[0])))
    th = max(2, round(iod / 28))
    axes = (int(0.36 * iod), int(0.24 * iod))
    col = tuple(int(c) for c in colour)
    for c in (le, re):
        cv2.ellipse(
            rgb, (int(c[0]), int(c[1] + 0.04 * iod)), axes, ang, 0, 360, col, th, cv2.LINE_AA
        )
    d = (re - le) / iod
    a, b = le + d * 0.36 * iod, re - d * 0.36 * iod
    cv2.line(rgb, tuple(int(v) for v in a), tuple(int(v) for v in b), col, th, cv2.LINE_AA)
    for c, side, jaw in ((le, -1, lm68[0]), (re, 1, lm68[16])):
        p = c + side * d * 0.36 * iod
        cv2.line(rgb, tuple(int(v) for v in p), (int(jaw[0]), int(p[1])), col, th, cv2.LINE_AA)
    out = rgba.copy()
    out[..., :3] = rgb
    return out


def relief_map(person: np.ndarray, lm68: np.ndarray) -> np.ndarray:
    """Height of the head above the body plane (uint8, 255 = nose tip) for the depth modality.

    A body plateau, a head ellipsoid, a face ellipsoid from the jaw outline and a nose bump.
    """
    h, w = person.shape
    q = 4  # smooth surface: evaluate on a coarse grid, upsample
    yy, xx = np.mgrid[0:h:q, 0:w:q].astype(np.float32)
    jaw_w = float(np.linalg.norm(lm68[16] - lm68[0]))
    cx = float(lm68[[0, 16, 27, 8], 0].mean())
    top = float(lm68[17:27, 1].min())
    cy = (top + float(lm68[8, 1])) / 2
    ay, ax = (float(lm68[8, 1]) - top) * 0.62, jaw_w * 0.52
    r2 = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    face = np.sqrt(np.clip(1 - r2, 0, 1))
    r2h = ((xx - cx) / (1.35 * ax)) ** 2 + ((yy - (cy - 0.25 * ay)) / (1.3 * ay)) ** 2
    head = np.sqrt(np.clip(1 - r2h, 0, 1))
    nx, ny = lm68[30]
    nose = np.exp(-(((xx - nx) / (0.09 * jaw_w)) ** 2 + ((yy - ny) / (0.16 * jaw_w)) ** 2))
    rel = (0.3 + 0.3 * head + 0.3 * face + 0.12 * nose) * 255.0
    rel = cv2.resize(np.clip(rel, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(rel, person, scale=1.0 / 255.0)
