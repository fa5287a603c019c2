"""The paper's reported numbers (SPEC §6), printed beside ours in the report."""

from __future__ import annotations

FIG7_ROUNDS_TO_BEST = {"dfcnn": 26, "surf": 33, "inception": 36}
FIG7_DFCNN_INITIAL_LOSS = 34

FIG8_AT_7MP = {
    "single": {"surf": 94.1, "dfcnn": 98.4},
    "three": {"surf": 91.6, "inception": 90.7, "dfcnn": 97.6},
}
FIG8_DFCNN_SINGLE_AT_1MP = 89.8

FIG9_TEXT = {
    "extraction": "DF-CNN 2.3-4.7 ms/image; Inception 7.0-8.0 ms in field D; CNN slowest in 6 of 7 fields",
    "result_generation": "DF-CNN 1.6-7.4 ms; order CNN > SURF > Inception > DF-CNN",
}

FIG10_SETTLED_PERCENT = {
    "single": {"inception": 13.7, "surf": 10.5, "dfcnn": 5.0},
    "three": {"inception": 13.4, "surf": 12.3, "dfcnn": 8.2},
}
FIG10_MAX_PERCENT_SINGLE = {"inception": 15.8, "surf": 14.1, "dfcnn": 6.0}

FIG11_AT_L20_PERCENT = {"surf": 78.0, "inception": 85.0, "dfcnn": 92.0}
FIG11_DFCNN_AT_L100_PERCENT = 91.0

TABLE1 = {
    "cpu": "i5-13490F",
    "gpu": "GTX 4080 (sic)",
    "ram_gb": "64",
    "os": "Ubuntu 14.04",
    "framework": "Caffe",
    "python": "2.7.12",
    "other": "Matlab R2015b",
}
