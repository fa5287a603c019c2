import numpy as np
import pytest
from PIL import Image

from dfcnn.metrics.consistency import PERTURBATIONS, center_crop, cosine, feature_consistency
from dfcnn.metrics.timing import time_ms


def _scene():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))


def test_perturbations_keep_rgb_and_crop_size():
    scene = _scene()
    for name, perturb in PERTURBATIONS.items():
        out = perturb(scene)
        assert out.mode == "RGB", name
    assert center_crop(0.9)(scene).size == (72, 54)


def test_feature_consistency_of_invariant_and_sensitive_describers():
    # mean colour is (nearly) invariant to JPEG/rotation/crop but not to brightness
    const = lambda im: np.array([1.0, 0.0])
    assert feature_consistency(const, [_scene()]) == pytest.approx(100.0)
    flip = {"negate": lambda im: im}
    sign = iter([np.array([1.0, 0.0]), np.array([-1.0, 0.0])])
    assert feature_consistency(lambda im: next(sign), [_scene()], flip) == pytest.approx(-100.0)
    assert cosine(np.array([1.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(2 ** -0.5)
    with pytest.raises(ValueError):
        feature_consistency(const, [])


def test_time_ms_counts_repeats():
    calls = []
    mean, std = time_ms(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and mean >= 0 and std >= 0
