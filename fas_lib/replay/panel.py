"""The replay synthesizer's own display model (:mod:`fas_lib.replay.synthesis`), not SynthSpoof's.

SynthSpoof's screens (:mod:`fas_lib.synthspoof.screen`) have RGB or BGR *stripe* sub-pixels
in a 3 x 3 texture per display pixel, a power-law gamma with a black level, an RGB tint, a
saturation matrix, a straight glare band, edge bleed blobs and a cosine refresh band, all
rendered in 8-bit display-referred values. This model shares none of it:

* **sub-pixel layouts** SynthSpoof has none of (:data:`LAYOUTS`): PenTile RGBG diamond (red and
  blue on a checkerboard of every other pixel, a small green in every pixel, red and blue
  rendered by sub-pixel rendering from a pixel pair), RGB **delta** (stripes whose odd rows are
  shifted by half a pixel) and Samsung's **S-stripe** (red above green, a tall blue bar
  beside them), as a periodic emitter tile (:func:`layout_tile`);
* **panel response curves** of other families (:func:`transfer_lut`): an OLED curve with a
  black-crush knee, the sRGB piecewise curve (linear toe + 2.4 power) with a panel exponent,
  and a TN LCD whose exponent changes down the panel with the vertical viewing angle;
* **gamut and white point** as CIE xy primaries and white (:func:`panel_matrix`): a wide P3
  OLED, a narrow-gamut TN, an Adobe-RGB-like tablet in a warm mode, mapped to the linear sRGB
  scene the camera sees; the panel's colour mode scales saturation in linear light;
* **backlight and refresh**: LCD backlight clouding (a smooth random field on the black
  level), PWM dimming read out by the camera's rolling shutter as square-wave bands of sensor
  rows (:func:`pwm_gains`).

The device, its glass (a lamp's hotspot, the room in an anti-reflective coating) and the
rendering of the screen in the camera's pixels are :mod:`fas_lib.replay.device`: every
output pixel is mapped back to the display plane (display pixels as units), the panel's
:func:`emission` is sampled there, and the emitter tile, filtered by the camera pixel's
footprint and the lens (a box and a disc, :func:`aperture_filter`), is sampled with
wrap-around; what they leave of the sub-pixels aliases into moire, strong when a display pixel
spans more than a camera pixel, faint when many display pixels share one. Everything is linear light
(float32): the camera (:mod:`fas_lib.replay.camera`) encodes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Samples per display pixel of an emitter tile.
SAMPLES: int = 12
#: Tile size of each layout in display pixels ``(width, height)``.
LAYOUTS: dict[str, tuple[int, int]] = {"pentile": (2, 2), "delta": (1, 2), "sstripe": (1, 1)}
#: The anti-reflective coating's tint of the reflected room (purple).
AR_TINT: tuple[float, float, float] = (0.85, 0.7, 1.0)
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
D65 = (0.3127, 0.3290)


@dataclass(frozen=True)
class Panel:
    """A display panel of the synthesizer.

    Attributes:
        name: ``"o1"`` ...
        title: what it stands for.
        layout: sub-pixel layout, a key of :data:`LAYOUTS`.
        curve: response family: ``"knee"`` (OLED black crush + power), ``"srgb"`` (sRGB
            piecewise curve to a power), ``"tn"`` (power whose exponent changes down the panel).
        exponent: range of the curve's exponent.
        primaries: CIE xy of the red, green and blue primaries.
        white: CIE xy of the white point.
        black: range of the black level (share of white).
        aperture: emitter size factor (1: the layout's nominal emitters).
        glare: range of the hotspot's peak (room-white units).
        reflectance: the glass's reflectance of the room.
        clouding: backlight non-uniformity on the black level (0: emissive, none).
        duty: range of the PWM duty cycle (the lit share of a period).
        brightness: range of the white's radiance (room-white units).
    """

    name: str
    title: str
    layout: str
    curve: str
    exponent: tuple[float, float]
    primaries: tuple[tuple[float, float], ...]
    white: tuple[float, float]
    black: tuple[float, float]
    aperture: float
    glare: tuple[float, float]
    reflectance: float
    clouding: float
    duty: tuple[float, float]
    brightness: tuple[float, float]


PANELS: tuple[Panel, ...] = (
    Panel("o1", "PenTile AMOLED phone, P3 gamut, D65", "pentile", "knee", (2.1, 2.5),
          ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), D65, (0.0, 0.002), 1.0,
          (0.25, 0.6), 0.05, 0.0, (0.25, 0.5), (1.2, 2.0)),
    Panel("o2", "delta-layout TN LCD, narrow gamut, 9300 K", "delta", "tn", (1.9, 2.4),
          ((0.600, 0.340), (0.310, 0.550), (0.155, 0.110)), (0.2848, 0.2932), (0.05, 0.12),
          0.85, (0.05, 0.2), 0.03, 0.6, (0.8, 0.95), (0.8, 1.3)),
    Panel("o3", "S-stripe OLED tablet, Adobe-RGB-like gamut, warm 5000 K mode", "sstripe",
          "srgb", (0.9, 1.12), ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060)),
          (0.3457, 0.3585), (0.0, 0.004), 0.9, (0.15, 0.45), 0.045, 0.0, (0.4, 0.7),
          (1.0, 1.7)),
)
PANEL_NAMES: tuple[str, ...] = tuple(p.name for p in PANELS)


def panel_by_name(name: str) -> Panel:
    """The panel called ``name`` (:data:`PANELS`)."""
    for p in PANELS:
        if p.name == name:
            return p
    raise KeyError(f"no panel {name!r}; known: {PANEL_NAMES}")


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """The sRGB piecewise decoding of values in [0, 1]."""
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


#: uint8 sRGB code -> linear light, float32 (256,).
DECODE: np.ndarray = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear light."""
    return DECODE[rgb]


def _xyz_matrix(primaries, white) -> np.ndarray:
    """RGB -> XYZ of primaries and white (xy), white at Y = 1."""
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    wx, wy = white
    s = np.linalg.solve(xyz, np.array([wx / wy, 1.0, (1 - wx - wy) / wy]))
    return xyz * s


def panel_matrix(panel: Panel, saturation: float) -> np.ndarray:
    """``(3, 3)`` map from the panel's drive (linear, after its curve) to linear sRGB light:
    saturation about the luminance in linear light (the colour mode), then the panel's
    primaries and white."""
    m = np.linalg.solve(_xyz_matrix(SRGB_PRIMARIES, D65), _xyz_matrix(panel.primaries,
                                                                         panel.white))
    y = m[1] / m[1].sum()
    return m @ (saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), y))


def transfer_lut(curve: str, exponent: float, knee: float = 0.0) -> np.ndarray:
    """The panel's response to code values 0..255 as a float32 ``(256,)`` table in [0, 1]
    (``"tn"``: its response at the panel's middle row)."""
    x = np.arange(256) / 255.0
    if curve == "knee":
        y = np.clip((x - knee) / (1 - knee), 0, 1) ** exponent
    elif curve == "srgb":
        y = srgb_to_linear(x) ** exponent
    elif curve == "tn":
        y = x ** exponent
    else:
        raise ValueError(f"unknown panel curve {curve!r}")
    return y.astype(np.float32)


def layout_tile(layout: str, aperture: float = 1.0, samples: int = SAMPLES,
                floor: float = 0.02) -> np.ndarray:
    """One period of a layout's emitters, ``(rows, cols, 3)`` float32 in [floor, 1], sampled
    at ``samples`` per display pixel (4 x 4 supersampled), over :data:`LAYOUTS` pixels."""
    px, py = LAYOUTS[layout]
    k = 4
    y, x = (np.mgrid[0:py * samples * k, 0:px * samples * k] + 0.5) / (samples * k)
    i, j = np.floor(x), np.floor(y)
    fx, fy, a = x - i, y - j, aperture
    m = np.zeros((*x.shape, 3), np.float32)
    if layout == "pentile":
        big = np.abs(fx - 0.27) + np.abs(fy - 0.5) <= 0.3 * a
        red = (i + j) % 2 == 0
        m[..., 0], m[..., 2] = big & red, big & ~red
        m[..., 1] = np.abs(fx - 0.75) + np.abs(fy - 0.5) <= 0.2 * a
    elif layout == "delta":
        xs = 3 * (x + 0.5 * (j % 2))  # odd rows shifted by half a pixel
        on = (np.abs(xs - np.floor(xs) - 0.5) <= 0.4 * a) & (np.abs(fy - 0.5) <= 0.4 * a)
        for c in range(3):
            m[..., c] = on & (np.floor(xs) % 3 == c)
    elif layout == "sstripe":
        left = np.abs(fx - 0.27) <= 0.19 * a
        m[..., 0] = left & (np.abs(fy - 0.27) <= 0.19 * a)
        m[..., 1] = left & (np.abs(fy - 0.73) <= 0.19 * a)
        m[..., 2] = (np.abs(fx - 0.73) <= 0.19 * a) & (np.abs(fy - 0.5) <= 0.42 * a)
    else:
        raise ValueError(f"unknown layout {layout!r}; known: {sorted(LAYOUTS)}")
    tile = cv2.resize(m, (px * samples, py * samples), interpolation=cv2.INTER_AREA)
    return (floor + (1 - floor) * tile).astype(np.float32)


def aperture_filter(tile: np.ndarray, footprint: float, lens: float = 0.0) -> np.ndarray:
    """The periodic ``tile`` as the camera samples it: through its lens (a defocus disc of
    radius ``lens`` tile samples) and its pixel's area (a square box ``footprint`` tile samples
    wide), by circular convolution (FFT); normalised to a mean of 1 per channel."""
    ny, nx = tile.shape[:2]
    h = np.sinc(footprint * np.fft.fftfreq(ny))[:, None] * np.sinc(
        footprint * np.fft.fftfreq(nx))[None]
    if lens > 0:  # the disc wrapped onto the tile's period
        k = disc_kernel(lens)
        r = np.arange(k.shape[0]) - k.shape[0] // 2
        wrapped = np.zeros((ny, nx))
        np.add.at(wrapped, ((r % ny)[:, None], (r % nx)[None]), k)
        h = h * np.fft.fft2(wrapped).real  # a symmetric kernel: a real response
    spec = np.fft.fft2(tile, axes=(0, 1)) * h[..., None]
    out = np.clip(np.fft.ifft2(spec, axes=(0, 1)).real, 0, None)
    return (out / out.mean(axis=(0, 1))).astype(np.float32)


def disc_kernel(radius: float) -> np.ndarray:
    """A defocus disc of ``radius`` pixels (area coverage, 8 x 8 supersampled), sum 1."""
    r = max(float(radius), 0.3)
    n = int(np.ceil(r))
    y, x = (np.mgrid[0:(2 * n + 1) * 8, 0:(2 * n + 1) * 8] + 0.5) / 8 - n - 0.5
    k = cv2.resize((np.hypot(x, y) <= r).astype(np.float32), (2 * n + 1, 2 * n + 1),
                   interpolation=cv2.INTER_AREA)
    return k / k.sum()


def smooth_field(rng: np.random.Generator, width: int, height: int, cells: int = 4
                 ) -> np.ndarray:
    """A smooth random field ``(height, width)`` float32 in [0, 1] (a ``cells``-wide grid of
    uniform values, bicubic)."""
    grid = rng.random((max(2, cells * height // max(width, 1)), cells)).astype(np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


@dataclass
class PanelDraw:
    """One video's panel, drawn: ``lut`` (or the TN's per-row ``rows`` exponents), the drive ->
    linear sRGB ``matrix``, the ``black`` light (``(gh, gw, 3)`` on the emission's grid,
    backlight clouding included), the white ``brightness``, the PWM ``duty``, the emitter
    ``tile`` seen through the camera (mean 1 per channel) and ``spr``: PenTile's sub-pixel
    rendering is applied (the grid is the display's pixels)."""

    panel: Panel
    lut: np.ndarray
    rows: np.ndarray | None
    matrix: np.ndarray
    black: np.ndarray
    brightness: float
    duty: float
    tile: np.ndarray
    spr: bool = False


def draw_panel(panel: Panel, rng: np.random.Generator, disp: tuple[int, int], pitch: float,
               saturation: float, clouding: float = 1.0, lens: float = 0.0,
               grid: tuple[int, int] | None = None) -> PanelDraw:
    """Draw one video's panel (exponent, knee, TN slope, black, brightness, duty, clouding, in
    this order); ``pitch``: camera pixels per display pixel and ``lens``: the camera's disc
    radius in camera pixels (they filter the emitter tile, :func:`aperture_filter`);
    ``clouding``: factor on the panel's backlight clouding; ``grid``: ``(gw, gh)`` of the
    emission (default ``disp``; coarser where the input has fewer pixels than the display)."""
    exponent, knee = rng.uniform(*panel.exponent), rng.uniform(0.02, 0.06)
    slope = rng.uniform(-0.35, 0.35)
    black, brightness = rng.uniform(*panel.black), rng.uniform(*panel.brightness)
    duty = rng.uniform(*panel.duty)
    gw, gh = grid or disp
    field = smooth_field(rng, gw, gh)
    rows = None
    if panel.curve == "tn":  # the exponent changes with the vertical viewing angle
        v = (np.arange(gh) + 0.5) / gh - 0.5
        rows = (exponent * (1 + slope * 2 * v)).astype(np.float32)
    matrix = panel_matrix(panel, saturation)
    white = matrix @ np.ones(3)
    cloud = 1 + clouding * panel.clouding * (2 * field - 1)
    black_img = (black * brightness * cloud[..., None] * white).astype(np.float32)
    tile = aperture_filter(layout_tile(panel.layout, panel.aperture), SAMPLES / pitch,
                           lens * SAMPLES / pitch)
    return PanelDraw(panel, transfer_lut(panel.curve, exponent, knee), rows,
                     (matrix * (1 - black) * brightness).astype(np.float32), black_img,
                     float(brightness), float(duty), tile,
                     panel.layout == "pentile" and (gw, gh) == tuple(disp))


def emission(pd: PanelDraw, frame: np.ndarray) -> np.ndarray:
    """The light one ``(H, W, 3)`` uint8 frame makes the panel emit, ``(gh, gw, 3)`` float32
    linear sRGB on the emission's grid (before the emitters' pattern): resampled to the grid,
    the response curve, PenTile's sub-pixel rendering (red and blue from a pixel pair, where
    the grid is the display's pixels), the primaries and white, the black light."""
    dh, dw = pd.black.shape[:2]
    content = cv2.resize(frame, (dw, dh), interpolation=cv2.INTER_AREA)
    if pd.rows is not None:
        drive = (content.astype(np.float32) / 255.0) ** pd.rows[:, None, None]
    else:
        drive = pd.lut[content]
    if pd.spr:
        spr = cv2.filter2D(drive, -1, np.array([[0.25, 0.5, 0.25]], np.float32),
                           borderType=cv2.BORDER_REPLICATE)
        drive[..., 0], drive[..., 2] = spr[..., 0], spr[..., 2]
    return np.maximum(cv2.transform(drive, pd.matrix), 0) + pd.black


def pwm_gains(rng: np.random.Generator, depth: float, duty: float, rows: int, n: int
              ) -> np.ndarray:
    """Per-frame gains ``(n, rows)`` float32 of the sensor rows on a PWM-dimmed panel: the
    rolling shutter reads the panel's on / off cycle as square bands (lit share ``duty``),
    softened by the exposure, ``depth`` deep, drifting between frames."""
    period = rows / rng.uniform(2.0, 6.0)
    speed, phase, smear = rng.uniform(0.1, 0.45), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
    y = np.arange(rows)[None] / period - phase - speed * np.arange(n)[:, None]
    lit = ((y - np.floor(y)) < duty).astype(np.float32)
    k = max(1, int(smear * period))
    soft = cv2.blur(lit, (k, 1), borderType=cv2.BORDER_REFLECT)  # along the rows
    return (1.0 - depth * (1.0 - soft)).astype(np.float32)
