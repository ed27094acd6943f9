"""What published work reports about real recapture cues: quoted, never measured here.

:data:`REFERENCES` names, per paper, the dataset, the cue it exploits and, where the number
was checked against the source named in ``checked``, what it reports (rates in [0, 1]).
These are reference numbers from papers; the measured numbers of this course come from
:mod:`fas_lib.studies.realism` and :mod:`fas_lib.studies.cues` and are never mixed with
them. In short: grey-level micro-texture (LBP) separates print and replay attacks of
Replay-Attack only moderately (about 15 % HTER, Chingovska et al. 2012; LBP-TOP over time
halves it, de Freitas Pereira et al. 2012); colour texture in HSV / YCbCr (Boulkenafet et al.
2016), image distortion (specular reflection, blur, chromatic moments, colour diversity; Wen
et al. 2015) and moire patterns (Patel et al. 2016) are the cues recaptures carry, and they
generalise poorly across datasets and devices.
"""

from __future__ import annotations

from typing import Any

#: Published findings about real recapture cues (reference numbers from the papers, rates in
#: [0, 1]; ``None`` where the number was not checked). Never mixed with measured numbers.
REFERENCES: dict[str, dict[str, Any]] = {
    "maatta2011": {
        "cite": "J. Määttä, A. Hadid, M. Pietikäinen, 'Face spoofing detection from single "
                "images using micro-texture analysis', IJCB 2011",
        "dataset": "NUAA Photograph Imposter Database",
        "cue": "micro-texture of printed photos: multi-scale LBP histograms + SVM",
        "reported": None,
        "checked": "title, venue and method (reference lists citing it)",
    },
    "chingovska2012": {
        "cite": "I. Chingovska, A. Anjos, S. Marcel, 'On the effectiveness of local binary "
                "patterns in face anti-spoofing', BIOSIG 2012",
        "dataset": "Replay-Attack (introduced there)",
        "cue": "grey-level LBP micro-texture of the face; 'moderate discriminability'",
        "reported": {"test_hter": 0.15},
        "checked": "abstract, infoscience.epfl.ch/record/192369 ('LBP, with 15% Half Total "
                   "Error Rate')",
    },
    "freitas_pereira2012": {
        "cite": "T. de Freitas Pereira, A. Anjos, J. M. De Martino, S. Marcel, 'LBP-TOP based "
                "countermeasure against face spoofing attacks', ACCV 2012 workshops",
        "dataset": "Replay-Attack",
        "cue": "space-time texture (LBP-TOP) instead of single-frame LBP",
        "reported": {"test_hter_lbp": 0.1516, "test_hter_lbp_top": 0.0760},
        "checked": "abstract, publications.idiap.ch/publications/show/2426",
    },
    "komulainen2013": {
        "cite": "J. Komulainen, A. Hadid, M. Pietikäinen, A. Anjos, S. Marcel, "
                "'Complementary countermeasures for detecting scenic face spoofing attacks', "
                "ICB 2013",
        "dataset": "Replay-Attack",
        "cue": "motion and texture fused at score level",
        "reported": {"test_hter_best_single": 0.112, "test_hter_fused": 0.051},
        "checked": "abstract",
    },
    "wen2015": {
        "cite": "D. Wen, H. Han, A. K. Jain, 'Face spoof detection with image distortion "
                "analysis', IEEE TIFS 10(4):746-761, 2015",
        "dataset": "Replay-Attack, CASIA-FASD, MSU MFSD (introduced there)",
        "cue": "image distortion: specular reflection, blurriness, chromatic moment, colour "
               "diversity; hard across databases and devices",
        "reported": None,
        "checked": "abstract and bibliographic record",
    },
    "boulkenafet2016": {
        "cite": "Z. Boulkenafet, J. Komulainen, A. Hadid, 'Face spoofing detection using colour "
                "texture analysis', IEEE TIFS 2016, doi:10.1109/TIFS.2016.2555286",
        "dataset": "CASIA-FASD, Replay-Attack, MSU MFSD",
        "cue": "colour texture: texture histograms of each band of luminance and chrominance "
               "(HSV, YCbCr); recaptures lack high-frequency information",
        "reported": None,
        "checked": "abstract and introduction",
    },
    "patel2016": {
        "cite": "K. Patel, H. Han, A. K. Jain, 'Secure face unlock: spoof detection on "
                "smartphones', IEEE TIFS 11(10):2268, 2016",
        "dataset": "MSU USSA (more than 1000 subjects), Replay-Attack, CASIA-FASD, MSU MFSD",
        "cue": "image distortion of recaptures: surface reflection, moire pattern, colour "
               "distortion, shape deformation",
        "reported": None,
        "checked": "abstract",
    },
}
