"""What an exported graph says about itself: input spec, opset, model card and geometry model.

A mobile or web runtime needs more than the weights: the input layout and value range, the warp
field's frame and resolution, the crop framing (zoom) and the geometry model from which it computes,
for a face's landmarks, the target landmarks and so the TPS field. All of it travels inside the
exported file (ONNX ``metadata_props``) or beside it (ncnn: ``<name>.json``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geostyle.infer.tone import (
    CHROMA_RAMP,
    EXPOSURE_DARK_RAMP,
    EXPOSURE_PERCENTILE,
    EXPOSURE_WHITE,
    MAX_EXPOSURE_GAIN,
    SAMPLE_STEP,
    TINT_RAMP,
)
from geostyle.warp.geometry import part_gain_points

METADATA_FORMAT = "geostyle-export"
METADATA_VERSION = 1
METADATA_KEY = "geostyle"  # the ONNX metadata_props key holding the JSON document


def input_spec(graph: str, size: int) -> list[dict[str, Any]]:
    image = {
        "name": "image",
        "shape": [1, 3, size, size],
        "dtype": "float32",
        "layout": "NCHW, RGB",
        "range": [-1.0, 1.0],
        "meaning": "the aligned face crop (face graph) or the frame at its working resolution (frame graph)",
    }
    if graph == "frame":
        return [image]
    return [
        image,
        {
            "name": "grid",
            "shape": [1, size // 4, size // 4, 2],
            "dtype": "float32",
            "layout": "NHWC, (x, y)",
            "range": [-1.0, 1.0],
            "meaning": "backward TPS field toward the style geometry, normalised crop frame "
            "(grid_sample, align_corners=False), at the resolution of the warped features (S/4)",
        },
        {
            "name": "warped",
            "shape": [1, 3, size, size],
            "dtype": "float32",
            "layout": "NCHW, RGB",
            "range": [-1.0, 1.0],
            "meaning": "the crop resampled by the same field at full resolution (the pixel-space warp)",
        },
    ]


def output_spec(size: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "stylized",
            "shape": [1, 3, size, size],
            "dtype": "float32",
            "layout": "NCHW, RGB",
            "range": [-1.0, 1.0],
            "meaning": "the stylized image, in the style geometry for the face graph",
        }
    ]


def build_metadata(stylizer, graph: str, size: int, opset: int | None, fmt: str) -> dict[str, Any]:
    """The metadata document of one exported graph of ``stylizer``'s model."""
    import torch

    import geostyle

    release = stylizer.release
    meta = release.metadata
    extra = meta.get("extra", {})
    return {
        "format": METADATA_FORMAT,
        "version": METADATA_VERSION,
        "export_format": fmt,
        "graph": graph,
        "opset": opset,
        "inputs": input_spec(graph, size),
        "outputs": output_spec(size),
        "model_card": {
            "name": stylizer.name,
            "arch": release.arch,
            "arch_kwargs": release.arch_kwargs,
            "params": int(sum(int(np.prod(p.shape)) for p in release.generator.parameters())),
            "trained_resolution": release.resolution,
            "training_steps": extra.get("step"),
            "trained_strength": stylizer.trained_strength,
            "default_strength": stylizer.strength,
            # Per-point multipliers of the strength the caller's TPS target applies
            # (geostyle.warp.geometry, "part gains"; the bundled anime models' face shape).
            "part_gains": dict(stylizer.part_gains),
            "part_gain_points": {name: list(part_gain_points(name)) for name in stylizer.part_gains},
            "part_gain_rule": "a point of a group moves at strength x gain, a gain above 1 no further "
            "than max(strength, 1) (min(strength, -1) for a negative strength); the parts keep their "
            "per-part shape formula (geometry), the outline and brows the global one",
            "crop_zoom": stylizer.zoom,
            # Drawn after the graph by the caller (geostyle.infer.eyes, .skin, .outline), not by the graph itself.
            "anime_eyes": {
                "opacity": stylizer.eyes,
                "drawn_by": "the caller, on the face graph's output at the warp's target landmarks "
                "(geostyle.infer.eyes.draw_anime_eyes); the graph does not draw them",
            },
            "anime_skin": {
                "opacity": stylizer.skin,
                "drawn_by": "the caller, after the anime eyes, on the face graph's output at the warp's "
                "target landmarks (geostyle.infer.skin.draw_anime_skin); the graph does not draw it",
            },
            "face_outline": {
                "opacity": stylizer.outline,
                "drawn_by": "the caller, after the anime eyes and skin, on the face graph's output at the warp's "
                "target landmarks, placed by the warped photo the graph was given, after the exposure step "
                "(geostyle.infer.outline.draw_face_outline, its guide); the graph does not draw it",
            },
            # Applied to the inputs by the caller (geostyle.infer.tone), not by the graph itself.
            "colourless_tint": {
                "lab_chroma": None if stylizer.colourless_tint is None else list(stylizer.colourless_tint),
                "applied_by": "the caller, to every input cut from a frame, with one measurement of the whole "
                "frame (geostyle.infer.tone.measure_cast): the frame's colour is the mean distance from grey of the "
                "OpenCV 8-bit Lab a, b of every 8th pixel each way with lightness 50 or more, and their mean (a, b); "
                "the weight falls linearly from 1 at colour 4 to 0 at colour 8; every pixel's a, b moves by weight "
                "times (lab_chroma minus that mean), faded out below lightness 50-110 (geostyle.infer.tone.tint); "
                "the graph does not tint; null: the model needs none",
                "chroma_ramp": list(CHROMA_RAMP),
                "lightness_ramp": list(TINT_RAMP),
                "sample_step": SAMPLE_STEP,
            },
            "exposure": {
                "share": stylizer.exposure,
                "applied_by": "the caller, to every input cut from a frame, before the tint, with one measurement of "
                "the whole frame (geostyle.infer.tone.measure_exposure): the frame's white point is the luma "
                "(0.299 R + 0.587 G + 0.114 B) at the given percentile of every 8th pixel each way; the gain in linear "
                "light (sRGB decoded) that takes it to white_point_target, at least 1 and at most max_gain, faded "
                "toward 1 as the white point falls through dark_ramp, raised to the power share; every channel is "
                "decoded, multiplied, clipped and re-encoded (geostyle.infer.tone.expose); the graph does not "
                "expose; share 0: the inputs are left as they are",
                "percentile": EXPOSURE_PERCENTILE,
                "white_point_target": EXPOSURE_WHITE,
                "max_gain": MAX_EXPOSURE_GAIN,
                "dark_ramp": list(EXPOSURE_DARK_RAMP),
            },
            "crop_framing": "FFHQ-style similarity from eye centres and mouth (geostyle.faces.align)",
            "landmarks": "geostyle canonical 33-point set, docs/conventions.md",
            "intended_use": "portrait stylization; research use (trained on research datasets)",
            "exported_with": {"geostyle": getattr(geostyle, "__version__", "0.1.0"), "torch": torch.__version__},
        },
        "geometry": release.geometry,
        "geometry_config": meta.get("config", {}).get("geometry", {}),
    }
