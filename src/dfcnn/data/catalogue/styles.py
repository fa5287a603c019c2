"""What makes one catalogue instance differ from another: palette, motif, text, shape variant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfcnn.data.catalogue.glyphs import WORDS

# field letter -> product kind (SPEC §4: 7 fields A-G)
FIELDS = {
    "A": "vase",
    "B": "folding_fan",
    "C": "lantern",
    "D": "paper_cut",
    "E": "seal",
    "F": "bookmark",
    "G": "pendant",
}

# (base, primary, secondary, accent) colours
PALETTES = {
    "blue_white": ((238, 238, 230), (28, 55, 135), (70, 110, 180), (20, 40, 100)),
    "celadon": ((165, 200, 175), (70, 115, 95), (225, 232, 215), (45, 85, 70)),
    "famille_rose": ((246, 236, 226), (205, 75, 105), (65, 140, 90), (210, 160, 40)),
    "imperial_yellow": ((232, 192, 55), (150, 40, 30), (40, 95, 60), (120, 30, 25)),
    "red_lacquer": ((165, 28, 28), (232, 190, 80), (25, 22, 20), (250, 215, 120)),
    "ink": ((236, 226, 200), (35, 35, 35), (90, 90, 85), (170, 35, 35)),
    "turquoise": ((55, 160, 165), (245, 225, 150), (150, 40, 40), (30, 80, 90)),
    "aubergine": ((105, 55, 115), (238, 212, 150), (70, 140, 90), (245, 235, 200)),
    "cinnabar": ((200, 55, 40), (250, 235, 200), (40, 30, 25), (250, 200, 80)),
    "jade": ((100, 165, 120), (40, 95, 65), (200, 225, 200), (30, 70, 50)),
    "mutton_fat": ((232, 228, 205), (150, 140, 110), (250, 248, 235), (110, 100, 80)),
    "amber": ((205, 140, 50), (120, 60, 20), (245, 200, 120), (90, 45, 15)),
    "ink_jade": ((45, 55, 50), (120, 140, 125), (80, 95, 85), (160, 175, 160)),
    "gold_red": ((215, 40, 35), (245, 200, 70), (120, 20, 20), (250, 230, 150)),
    "crimson": ((180, 20, 45), (255, 255, 255), (120, 10, 30), (240, 200, 80)),
    "indigo": ((40, 50, 110), (235, 225, 200), (200, 60, 60), (240, 200, 90)),
    "peach": ((245, 210, 190), (195, 80, 80), (80, 130, 80), (120, 60, 40)),
    "rice_paper": ((242, 234, 212), (50, 50, 45), (120, 150, 90), (190, 40, 40)),
}

FIELD_PALETTES = {
    "vase": ["blue_white", "celadon", "famille_rose", "imperial_yellow", "turquoise", "aubergine", "red_lacquer", "ink"],
    "folding_fan": ["rice_paper", "ink", "famille_rose", "indigo", "peach", "imperial_yellow", "red_lacquer"],
    "lantern": ["gold_red", "crimson", "cinnabar", "imperial_yellow", "red_lacquer", "indigo"],
    "paper_cut": ["crimson", "gold_red", "cinnabar", "indigo", "red_lacquer", "imperial_yellow"],
    "seal": ["amber", "jade", "mutton_fat", "ink_jade", "cinnabar", "celadon"],
    "bookmark": ["rice_paper", "peach", "indigo", "celadon", "famille_rose", "ink", "imperial_yellow"],
    "pendant": ["jade", "mutton_fat", "ink_jade", "amber", "celadon", "turquoise"],
}

FIELD_MOTIFS = {
    "vase": ["floral", "waves", "clouds", "dots", "plum", "bamboo", "mountains"],
    "folding_fan": ["mountains", "plum", "bamboo", "floral", "waves", "clouds"],
    "lantern": ["clouds", "floral", "waves", "dots"],
    "paper_cut": ["petals", "rings", "stars", "crescents"],
    "seal": ["veins", "mottled"],
    "bookmark": ["bamboo", "plum", "floral", "mountains", "waves", "clouds"],
    "pendant": ["grain", "clouds", "plain", "waves"],
}

FIELD_SHAPES = {
    "vase": ["meiping", "yuhuchun", "gourd", "baluster"],
    "folding_fan": ["wide", "narrow"],
    "lantern": ["round", "tall"],
    "paper_cut": ["circle", "square", "flower"],
    "seal": ["beast", "dome", "flat"],
    "bookmark": ["rect", "arched"],
    "pendant": ["bi", "plaque", "lock"],
}


@dataclass(frozen=True)
class InstanceStyle:
    """One product instance: everything its rendering depends on besides the pose and scene."""

    field: str  # letter A-G
    kind: str
    index: int
    seed: int
    palette_name: str
    motif: str
    shape: str
    word: str
    glyph_seeds: tuple[int, ...]

    @property
    def palette(self):
        return PALETTES[self.palette_name]

    @property
    def instance_id(self) -> str:
        return f"{self.field}{self.index:02d}"


def _pick(rng, options: list, i: int, offset: int):
    """Cycle through a shuffled option list so instances of a field differ wherever they can."""
    return options[(offset + i) % len(options)]


def field_styles(seed: int, field: str, n_instances: int) -> list[InstanceStyle]:
    """The ``n_instances`` instances of one field, deterministic by ``seed``."""
    kind = FIELDS[field]
    rng = np.random.default_rng([seed, ord(field)])
    palettes = list(rng.permutation(FIELD_PALETTES[kind]))
    motifs = list(rng.permutation(FIELD_MOTIFS[kind]))
    shapes = list(rng.permutation(FIELD_SHAPES[kind]))
    words = list(rng.permutation(WORDS))
    offsets = rng.integers(0, 1000, size=3)
    styles = []
    for i in range(n_instances):
        styles.append(
            InstanceStyle(
                field=field,
                kind=kind,
                index=i,
                seed=int(rng.integers(0, 2**31 - 1)),
                palette_name=str(_pick(rng, palettes, i, 0)),
                motif=str(_pick(rng, motifs, i, int(offsets[0]))),
                shape=str(_pick(rng, shapes, i, int(offsets[1]))),
                word=str(words[i % len(words)]),
                glyph_seeds=tuple(int(x) for x in rng.integers(0, 2**31 - 1, size=4)),
            )
        )
    return styles
