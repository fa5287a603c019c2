"""SURF key-points and 64-d descriptors (SPEC §3), from whichever implementation is installed.

OpenCV's ``cv2.xfeatures2d.SURF_create`` is used when the installed OpenCV was built with the
non-free module; the PyPI wheels are not (creating it raises "This algorithm is patented and is
excluded in this configuration"), so otherwise ``mahotas.features.surf`` (MIT, a port of dlib's
SURF) runs. Which one ran is reported by ``SurfExtractor.implementation`` so runs can log it:
mahotas' SURF is rotation-robust but weak across scale and much less distinctive than real SURF.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

IMPLEMENTATIONS = ("opencv", "mahotas")

# OpenCV normalises each lobe of a box filter by that lobe's area, mahotas (dlib) the whole
# response by the filter's area (3l)^2. Per second derivative that is a factor 9l / (2l - 1)
# (Dxx, Dyy; lobe size l), about 4.9 at the lobe sizes l = 5..11 where mahotas' first octave
# detects, so a determinant differs by ~4.9^2 = 24. OpenCV's threshold 400 is therefore ~16.7
# for mahotas, both on a 0-255 grey image.
MAHOTAS_THRESHOLD_DIVISOR = 24.0

# Key-point scale reported as the Gaussian sigma of the detecting filter, in pixels:
# sigma = 1.2 / 9 x filter size (Bay et al. 2008); OpenCV's KeyPoint.size is the filter size.
_SIGMA_PER_FILTER_SIZE = 1.2 / 9.0


@dataclass(frozen=True)
class Keypoints:
    """Key-points of one image, strongest first, in the input image's pixel coordinates."""

    xy: np.ndarray  # float32 [n, 2] (x, y)
    scale: np.ndarray  # float32 [n] sigma in pixels
    angle: np.ndarray  # float32 [n] orientation in radians (implementation's convention)
    response: np.ndarray  # float32 [n] Hessian determinant (implementation's units)
    descriptors: np.ndarray  # float32 [n, 64], each row L2-normalised

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    @classmethod
    def empty(cls, dim: int = 64) -> "Keypoints":
        z = np.zeros(0, np.float32)
        return cls(np.zeros((0, 2), np.float32), z, z.copy(), z.copy(), np.zeros((0, dim), np.float32))


@functools.lru_cache(maxsize=1)
def opencv_surf_available() -> bool:
    """True when the installed OpenCV can create SURF (built with OPENCV_ENABLE_NONFREE)."""
    try:
        import cv2

        cv2.xfeatures2d.SURF_create(400.0)
        return True
    except AttributeError:  # no contrib module at all
        return False
    except Exception as exc:  # cv2.error: "This algorithm is patented and is excluded ..."
        logger.debug("OpenCV SURF unavailable: %s", str(exc).strip().splitlines()[-1])
        return False


@functools.lru_cache(maxsize=1)
def mahotas_surf_available() -> bool:
    try:
        import mahotas.features.surf  # noqa: F401

        return True
    except ImportError:
        return False


def available_implementations() -> list[str]:
    """The SURF implementations that can run here, preferred first."""
    found = []
    if opencv_surf_available():
        found.append("opencv")
    if mahotas_surf_available():
        found.append("mahotas")
    return found


def resolve_implementation(implementation: str = "auto") -> str:
    """``auto`` -> the first available implementation; a named one must be available."""
    if implementation not in ("auto", *IMPLEMENTATIONS):
        raise ValueError(f"surf.implementation must be one of auto, {', '.join(IMPLEMENTATIONS)}; got {implementation!r}")
    found = available_implementations()
    if implementation == "auto":
        if not found:
            raise RuntimeError(
                "No SURF implementation available: install mahotas (pip install mahotas) or an "
                "OpenCV built with OPENCV_ENABLE_NONFREE."
            )
        return found[0]
    if implementation not in found:
        hint = (
            "the installed OpenCV lacks the non-free SURF (PyPI wheels exclude it; rebuild OpenCV with "
            "OPENCV_ENABLE_NONFREE) - use surf.implementation=mahotas or auto"
            if implementation == "opencv"
            else "pip install mahotas"
        )
        raise RuntimeError(f"SURF implementation {implementation!r} is not available here: {hint}")
    return implementation


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """uint8 [H, W] grey image from a PIL image or an RGB / grey array."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = np.asarray(Image.fromarray(arr[..., :3].astype(np.uint8), "RGB").convert("L"))
    if arr.ndim != 2:
        raise ValueError(f"expected an [H, W] or [H, W, 3] image, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def downscale(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``max_side`` (never enlarge); returns (image, factor)."""
    h, w = gray.shape
    if not max_side or max(h, w) <= max_side:
        return gray, 1.0
    import cv2

    factor = max_side / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), factor


def _detect_opencv(detector, gray: np.ndarray, max_keypoints: int) -> Keypoints:
    kps = detector.detect(gray, None)
    if not kps:
        return Keypoints.empty()
    kps = sorted(kps, key=lambda k: -k.response)[:max_keypoints]
    kps, desc = detector.compute(gray, kps)
    if desc is None or not kps:
        return Keypoints.empty()
    return Keypoints(
        xy=np.array([k.pt for k in kps], np.float32).reshape(-1, 2),
        scale=np.array([k.size * _SIGMA_PER_FILTER_SIZE for k in kps], np.float32),
        angle=np.deg2rad(np.array([k.angle for k in kps], np.float32)),
        response=np.array([k.response for k in kps], np.float32),
        descriptors=np.asarray(desc, np.float32),
    )


def _detect_mahotas(gray: np.ndarray, threshold: float, max_keypoints: int) -> Keypoints:
    from mahotas.features import surf as msurf

    # mahotas ranks all detections by score and computes descriptors for the strongest
    # max_points, dropping those too close to the border.
    pts = msurf.surf(gray.astype(np.float64), threshold=threshold, max_points=max_keypoints)
    if pts.shape[0] == 0:
        return Keypoints.empty()
    return Keypoints(
        xy=np.ascontiguousarray(pts[:, [1, 0]], np.float32),
        scale=pts[:, 2].astype(np.float32),
        angle=pts[:, 5].astype(np.float32),
        response=pts[:, 3].astype(np.float32),
        descriptors=np.ascontiguousarray(pts[:, 6:], np.float32),
    )


class SurfExtractor:
    """Grey conversion, downscaling and SURF detection + description in one call.

    ``hessian_threshold`` is in OpenCV's units (SPEC: 400); for mahotas it is divided by
    ``MAHOTAS_THRESHOLD_DIVISOR``. At most ``max_keypoints`` (the strongest) are described.
    Key-point coordinates and scales come back in the input image's pixel frame.
    """

    def __init__(
        self,
        implementation: str = "auto",
        hessian_threshold: float = 400.0,
        max_keypoints: int = 1000,
        max_side: int = 512,
    ):
        if max_keypoints < 1:
            raise ValueError(f"max_keypoints must be >= 1, got {max_keypoints}")
        self.requested = implementation
        self.implementation = resolve_implementation(implementation)
        self.hessian_threshold = float(hessian_threshold)
        self.max_keypoints = int(max_keypoints)
        self.max_side = int(max_side or 0)
        self._local = threading.local()  # one OpenCV detector per thread

    @property
    def native_threshold(self) -> float:
        """The threshold passed to the implementation that runs."""
        if self.implementation == "mahotas":
            return self.hessian_threshold / MAHOTAS_THRESHOLD_DIVISOR
        return self.hessian_threshold

    @property
    def info(self) -> dict:
        import cv2

        out = {
            "surf_implementation": self.implementation,
            "surf_implementation_requested": self.requested,
            "surf_hessian_threshold": self.hessian_threshold,
            "surf_native_threshold": self.native_threshold,
            "surf_max_keypoints": self.max_keypoints,
            "surf_max_side": self.max_side,
            "surf_descriptor_dim": 64,
            "opencv_version": cv2.__version__,
            "opencv_nonfree_surf": opencv_surf_available(),
        }
        if self.implementation == "mahotas":
            import mahotas

            out["mahotas_version"] = mahotas.__version__
        return out

    def _opencv_detector(self):
        det = getattr(self._local, "detector", None)
        if det is None:
            import cv2

            det = cv2.xfeatures2d.SURF_create(
                hessianThreshold=self.hessian_threshold, nOctaves=4, nOctaveLayers=3, extended=False, upright=False
            )
            self._local.detector = det
        return det

    def extract(self, image: Image.Image | np.ndarray) -> Keypoints:
        gray, factor = downscale(to_gray(image), self.max_side)
        if min(gray.shape) < 2:
            return Keypoints.empty()
        if self.implementation == "opencv":
            kp = _detect_opencv(self._opencv_detector(), gray, self.max_keypoints)
        else:
            kp = _detect_mahotas(gray, self.native_threshold, self.max_keypoints)
        if factor != 1.0 and len(kp):
            kp = Keypoints(
                xy=((kp.xy + 0.5) / factor - 0.5).astype(np.float32),
                scale=(kp.scale / factor).astype(np.float32),
                angle=kp.angle,
                response=kp.response,
                descriptors=kp.descriptors,
            )
        return kp
