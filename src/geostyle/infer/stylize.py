"""Image stylization with a release checkpoint.

Two products:

* the **whole frame** (:meth:`Stylizer.stylize_frame`, :meth:`Stylizer.render`): the generator runs
  over the frame at a working resolution (it is fully convolutional: hair and background get the
  style too); every face is additionally aligned, TPS-warped toward the style geometry at strength
  alpha, stylized at the model's resolution and blended back under a feathered mask
  (:mod:`geostyle.infer.composite`);
* the **aligned crop** (:meth:`Stylizer.stylize`): detect -> landmarks -> align -> TPS field -> G.

Models are found by name among the checkpoints that ship with the package (``--model anime``) or by
path to any ``.safetensors`` release checkpoint. The generator runs in PyTorch, ONNX Runtime or
OpenVINO (:mod:`geostyle.infer.runtime`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from geostyle.errors import CheckpointError, GeostyleError, NoFaceError
from geostyle.faces.align import Alignment, apply_affine, estimate_alignment, surround, warp_to_crop
from geostyle.faces.landmarks import Face, normalized_to_pixels
from geostyle.infer.composite import (
    cut_face,
    frame_pins,
    move_around,
    paste_face,
    resize_to,
    widened,
    working_size,
)
from geostyle.infer.eyes import draw_anime_eyes
from geostyle.infer.fields import FaceFieldSolver, FaceSpline
from geostyle.infer.outline import draw_face_outline
from geostyle.infer.runtime import RUNTIMES, from_blob, make_runtime, single_thread_numpy_blas, to_blob
from geostyle.infer.skin import draw_anime_skin
from geostyle.infer.timing import StageTimer
from geostyle.infer.tone import NO_CAST, Cast, expose, measure_cast, measure_exposure, tint
from geostyle.infer.tracking import reduce_for_detection, scale_face
from geostyle.nets.release import ReleaseModel, load_release, resolve_model
from geostyle.warp.alignment import BatchAligner
from geostyle.warp.geometry import GeometryModel, check_part_gains

# Models train at full style geometry (1.0), but at inference half strength keeps people far more
# recognisable while the eyes/nose/mouth proportions still read as the style (docs/training.md).
DEFAULT_STRENGTH = 0.5
# Long side of the copy the generator stylizes as a whole. 512 is the product's real-time size; the
# faces themselves are always stylized at the model's own resolution.
DEFAULT_WORK_SIZE = 512
# Long side of the copy the face detector searches: a 12000x9000 photo is searched at 1280x960
# (FaceMesh's own input is 192 px; larger copies only cost time and memory).
DEFAULT_DETECT_SIZE = 1280
DEFAULT_FEATHER = 0.12
# Where a face's warp stops moving pixels, in crop half-sides (1 = the crop border, as in training).
# Farther out, a chin lifted toward the style geometry carries the neck with it instead of smearing
# the strip below it into the crop border (docs/landmarks.md); the ring around the crop is warped
# along, in the stylized background.
DEFAULT_REACH = 1.5
DEFAULT_MAX_FACES = 4


@dataclass
class Aligned:
    crop: np.ndarray  # (S, S, 3) uint8, aligned photo crop
    landmarks: np.ndarray  # (K, 2), pixel frame of the crop, NaN = missing
    alignment: Alignment
    face: Face


@dataclass
class FrameWarp:
    """One face's warp in a whole frame (see :meth:`Stylizer.frame_warp`)."""

    full: np.ndarray  # (S, S, 2) backward field of the crop, normalised crop frame
    quarter: np.ndarray  # (1, S/4, S/4, 2) the same at the generator's feature resolution
    reach: float  # where the anchors sit, in crop half-sides
    alignment: Alignment  # the face's crop
    spline: FaceSpline  # the solved warp, to evaluate around the crop


@dataclass
class Stylized:
    crop: np.ndarray  # (S, S, 3) uint8, stylized aligned crop
    source_crop: np.ndarray  # (S, S, 3) uint8, the aligned photo crop it came from
    alignment: Alignment
    face: Face


class Stylizer:
    """Holds one loaded model; turns RGB images into stylized crops or whole frames.

    Args:
        model: bundled model name or path to a release checkpoint.
        strength: geometry strength alpha (0 keeps the photo's shape, 1 the style's; default: the
            model's ``extra.default_strength`` if it carries one, else 0.5).
            Read at every call, so it may be changed between frames.
        backend: landmark backend spec for still images (``mediapipe``, ``mediapipe,dlib``, ...).
        threads: intra-op threads of the runtime (0 = the library's default).
        runtime: ``"torch"``, ``"onnx"`` (ONNX Runtime) or ``"openvino"``.
        work_size: long side of the working resolution of the whole-frame pass (None: full size).
        detect_size: long side of the copy faces are detected on (None: full size).
        max_faces: faces stylized per frame (largest first).
        feather: width of the blend ramp at the crop border, as a fraction of the crop side.
        overlap: run the whole-frame pass in a worker thread while the faces are stylized (same
            output; per-stage times then overlap and no longer add up to the frame time).
        reach: how far around a face its warp moves pixels, in crop half-sides (whole frames and
            :meth:`stylize`; :meth:`stylize_crop`, which has nothing beyond the crop, pins its border).
        ink: how much the photo's own line art darkens the output (0-1; the generator's ``ink``;
            None: the model's own, 0 for models released without it).
        ink_grain: the ink's lines are drawn from the photo's lightness smoothed of variation
            under this many levels (the generator's ``ink_grain``,
            :func:`geostyle.nets.blocks.smooth_grain`; 0 from the photo as it is; None: the
            model's own, the default 8 for models released without it).
        dark_colour: how much of the photo's own hue the output takes where the photo is dark
            (0-1; the generator's ``dark_colour``, :func:`geostyle.nets.blocks.keep_dark_colour`;
            None: the model's own, 0 for models released without it; a model that draws one
            lightness, such as ``sketch``, has no hue to give back and ignores it).
        dark_depth: how much of the photo's own darkness the output takes back where the photo is
            dark, only ever darker (0-1; the generator's ``dark_depth``; None: the model's own, 0
            for models released without it; ignored by a model that draws one lightness, as
            ``dark_colour``).
        lift_cap: beyond how many levels (of 255) lighter than the photo 0.6 of the output's lift
            is taken back (a soft cap; the generator's ``lift_cap``,
            :func:`geostyle.nets.blocks.cap_lift`; 0 off; None: the model's own; ignored by a model
            that draws one lightness, as ``dark_colour``).
        clear_marks: how much of the thin light marks the photo does not have (the white dashes
            some anime students draw) is cleared (0-1; the generator's ``clear_marks``,
            :func:`geostyle.nets.blocks.clear_light_marks`; None: the model's own; ignored by a
            model that draws one lightness, as ``dark_colour``).
        smooth_head: how much of the two-pixel checkerboard the generator's transposed-convolution
            head draws is smoothed away (0-1; the generator's ``smooth_head``,
            :func:`geostyle.nets.blocks.smooth_checkerboard`; None: the model's own).
        eyes: anime eyes (a dark iris and a white catchlight, :mod:`geostyle.infer.eyes`) drawn into
            every stylized face at this opacity (0-1; None: the model's own ``extra.eyes``, else 0).
        outline: the face's outline (a dark line along the jaw and chin, :mod:`geostyle.infer.outline`)
            drawn at this opacity (0-1; None: the model's own ``extra.outline``, else 0).
        skin: the face's skin redrawn in a flat tone and a cel shadow (:mod:`geostyle.infer.skin`)
            at this opacity (0-1; None: the model's own ``extra.skin``, else 0).
        exposure: how much of an underexposed frame's missing light is given back before the
            generator (0-1, the share of the gain in stops that takes the frame's white point to white,
            :func:`geostyle.infer.tone.measure_exposure`; None: the model's own ``extra.exposure``,
            else 0).
    """

    def __init__(
        self,
        model: str | Path,
        strength: float | None = None,
        backend: str = "mediapipe",
        threads: int = 0,
        *,
        part_gains: dict[str, float] | None = None,
        runtime: str = "torch",
        work_size: int | None = DEFAULT_WORK_SIZE,
        detect_size: int | None = DEFAULT_DETECT_SIZE,
        max_faces: int = DEFAULT_MAX_FACES,
        feather: float = DEFAULT_FEATHER,
        overlap: bool = True,
        reach: float = DEFAULT_REACH,
        ink: float | None = None,
        ink_grain: float | None = None,
        dark_colour: float | None = None,
        dark_depth: float | None = None,
        lift_cap: float | None = None,
        clear_marks: float | None = None,
        smooth_head: float | None = None,
        eyes: float | None = None,
        outline: float | None = None,
        skin: float | None = None,
        exposure: float | None = None,
    ):
        if runtime not in RUNTIMES:
            raise GeostyleError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        if threads > 0:
            torch.set_num_threads(threads)
        single_thread_numpy_blas()  # its idle workers spin on the cores the generator needs
        self.path = resolve_model(model)
        self.release: ReleaseModel = load_release(self.path)
        # Fixed filters after the residual, no weights: any RGB model can take them.
        if ink is not None:
            self._set_filter("set_ink", ink, "this generator draws no ink")
        self.ink = float(getattr(self.release.generator, "ink", 0.0))
        if ink_grain is not None:
            self._set_filter("set_ink_grain", ink_grain, "this generator draws no ink whose grain could be smoothed")
        self.ink_grain = float(getattr(self.release.generator, "ink_grain", 0.0))
        # A pencil model draws one lightness: no hue to give back, so the dark colour has nothing
        # to do there (and `live`, which switches between models with the same options, keeps running).
        draws_colour = getattr(self.release.generator, "draws_colour", True)
        if dark_colour is not None and draws_colour:
            self._set_filter("set_dark_colour", dark_colour, "this generator cannot keep the photo's dark colours")
        if dark_depth is not None and draws_colour:
            self._set_filter("set_dark_depth", dark_depth, "this generator cannot give the photo's darkness back")
        if lift_cap is not None and draws_colour:
            self._set_filter("set_lift_cap", lift_cap, "this generator cannot cap its lift over the photo")
        if clear_marks is not None and draws_colour:
            self._set_filter("set_clear_marks", clear_marks, "this generator cannot clear light marks")
        self.dark_colour = float(getattr(self.release.generator, "dark_colour", 0.0))
        self.dark_depth = float(getattr(self.release.generator, "dark_depth", 0.0))
        self.lift_cap = float(getattr(self.release.generator, "lift_cap", 0.0))
        self.clear_marks = float(getattr(self.release.generator, "clear_marks", 0.0))
        # Any generator with a transposed-convolution head (every model here) can take it.
        if smooth_head is not None:
            self._set_filter("set_smooth_head", smooth_head, "this generator has no head to smooth")
        self.smooth_head = float(getattr(self.release.generator, "smooth_head", 0.0))
        if self.release.geometry is None:
            raise CheckpointError(f"{self.path}: model has no geometry model")
        try:
            self.geometry = GeometryModel.from_dict(self.release.geometry)
        except (GeostyleError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: geometry model is malformed ({exc})") from exc
        extra = self.release.metadata.get("extra", {})
        # A model trained on the photo set's palette draws a greyscale or nearly grey photo as an
        # average-coloured one when the release names the set's average colour (geostyle.infer.tone).
        self.colourless_tint: tuple[float, float] | None = None
        photo_palette = extra.get("photo_palette")
        if photo_palette is not None and draws_colour:
            try:
                mean = photo_palette["mean"]
                self.colourless_tint = (float(mean[1]), float(mean[2]))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise CheckpointError(f"{self.path}: photo_palette {photo_palette!r} is malformed ({exc})") from exc
        self.eyes = self._opacity(extra, "eyes", eyes)
        self.outline = self._opacity(extra, "outline", outline)
        self.skin = self._opacity(extra, "skin", skin)
        self.exposure = self._opacity(extra, "exposure", exposure)
        self.zoom = float(extra.get("zoom", 1.0))
        self.size = self.release.resolution
        self.trained_strength = float(extra.get("strength", 1.0))
        self.default_strength = suggested_strength(extra, self.path)
        self.strength = self.default_strength if strength is None else float(strength)
        # Per-part multipliers of the strength (extra.part_gains, e.g. anime eyes that grow more
        # than the face changes); an explicit argument replaces the model's.
        gains = extra.get("part_gains", {}) if part_gains is None else part_gains
        try:
            self.part_gains = check_part_gains(gains)
        except (GeostyleError, AttributeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: part gains {gains!r} are malformed ({exc})") from exc
        cfg = self.release.metadata.get("config", {}).get("geometry", {})
        aligner_args = dict(
            strength=self.strength,
            per_part=cfg.get("per_part", True),
            regularization=cfg.get("regularization", 1e-3),
            grid_resolution=cfg.get("grid_resolution", 64),
            anchors_per_side=cfg.get("anchors_per_side", 5),
            enabled=cfg.get("tps_alignment", True),
            part_gains=self.part_gains,
        )
        self.aligner = BatchAligner(self.geometry, self.size, **aligner_args)
        self.fields = FaceFieldSolver(self.aligner, self.size)
        self.backend_name = backend
        self._backend = None
        self.runtime_name = runtime
        self.threads = threads
        self.runtime = make_runtime(runtime, self.release.generator, threads)
        self.work_size = work_size
        self.detect_size = detect_size
        self.max_faces = max_faces
        self.feather = feather
        self.overlap = overlap
        if not 1.0 <= reach <= 4.0:
            raise GeostyleError(f"reach must be between 1 and 4 crop half-sides, got {reach}")
        self.reach = float(reach)
        self._pool: ThreadPoolExecutor | None = None
        # Per-stage wall time of render(); off unless a caller (the pipeline benchmark) enables it.
        self.timer = StageTimer(enabled=False)

    def _set_filter(self, setter: str, value: float, missing: str) -> None:
        """Call the generator's ``setter`` with an explicit ``value``; its refusals are the caller's
        errors, as is a generator without that setter (``missing`` says why)."""
        set_value = getattr(self.release.generator, setter, None)
        if set_value is None:
            raise GeostyleError(f"{self.path}: {missing}")
        try:
            set_value(value)
        except ValueError as exc:
            raise GeostyleError(str(exc)) from exc

    def _opacity(self, extra: dict, name: str, given: float | None) -> float:
        """A drawing's opacity (0-1): ``given``, else the model's ``extra[name]``, else 0. A bad
        ``given`` is the caller's error; a bad ``extra[name]`` the model file's."""
        raw = extra.get(name, 0.0) if given is None else given
        try:
            value = float(raw)
        except (TypeError, ValueError):
            if given is not None:
                raise GeostyleError(f"{name} must be a number between 0 and 1, got {given!r}") from None
            raise CheckpointError(f"{self.path}: {name} {raw!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            if given is not None:
                raise GeostyleError(f"{name} must be between 0 and 1, got {value}")
            raise CheckpointError(f"{self.path}: {name} must be between 0 and 1, got {value}")
        return value

    @property
    def backend(self):
        if self._backend is None:
            from geostyle.faces.backends.chain import build_backend

            self._backend = build_backend(self.backend_name)
        return self._backend

    @property
    def name(self) -> str:
        return self.path.stem

    # ------------------------------------------------------------------------------ geometry
    def target_field(
        self, landmarks: np.ndarray, size: int, strength: float | None = None
    ) -> tuple[torch.Tensor | None, np.ndarray]:
        """TPS field of a crop toward the style geometry, and the target landmarks.

        ``landmarks (K, 2)``: pixel frame of the crop, NaN = missing; ``size`` must be the model's
        crop size. Returns the backward field ``(1, size, size, 2)`` (None when the model was trained
        without TPS alignment) and the target landmarks ``(K, 2)`` in the same pixel frame (NaN where
        missing).
        """
        if size != self.size:
            raise GeostyleError(f"crop size {size} differs from the model's {self.size}")
        alpha = self.strength if strength is None else strength
        t = self.fields.target(landmarks, alpha)
        target = normalized_to_pixels(t, size, size)
        if not self.aligner.enabled:
            return None, target
        full = self.fields.resize(self.fields.low_res(landmarks, alpha), size)
        return torch.from_numpy(full)[None], target

    def face_fields(
        self, landmarks: np.ndarray, strength: float | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The warp of one aligned face: the backward field at crop resolution ``(S, S, 2)`` (for the
        pixel warp) and at feature resolution ``(1, S/4, S/4, 2)`` (for the generator), both float32,
        normalised crop frame. ``landmarks (K, 2)`` in crop pixels. None when there is nothing to
        warp (strength 0, or a model trained without TPS alignment)."""
        spline = self.face_spline(landmarks, strength)
        return None if spline is None else self.fields.crop_fields(spline)

    def face_spline(self, landmarks: np.ndarray, strength: float | None = None) -> FaceSpline | None:
        """The solved warp of one aligned face (``landmarks (K, 2)`` in crop pixels, training's
        anchors on the crop border), or None when there is nothing to warp (as :meth:`face_fields`)."""
        alpha = self.strength if strength is None else strength
        if not self.aligner.enabled or alpha == 0:
            return None
        return self.fields.solve(landmarks, alpha)

    def frame_warp(
        self, alignment: Alignment, crop_points: np.ndarray, height: int, width: int, strength: float | None = None
    ) -> FrameWarp | None:
        """The warp of one face of a ``height x width`` frame, anchored ``reach`` crop half-sides out
        and pinned at the frame's border. ``crop_points (K, 2)``: the face's landmarks in crop
        pixels. None when there is nothing to warp (strength 0, or no TPS alignment in the model)."""
        alpha = self.strength if strength is None else strength
        if not self.aligner.enabled or alpha == 0:
            return None
        reach = widened(alignment, self.reach).size / alignment.size  # whole pixels each side
        pins = frame_pins(alignment, height, width, reach)
        # No landmark moves further than it is from the picture's edge (a chin at the edge would
        # fold the warp).
        spline = self.fields.solve(crop_points, alpha, reach, pins, limit=True)
        full, quarter = self.fields.crop_fields(spline)
        return FrameWarp(full, quarter, reach, alignment, spline)

    def move_surroundings(self, frame: np.ndarray, warp: FrameWarp) -> None:
        """Move ``frame``'s pixels around a face (in place) with the face's warp, out to its reach:
        the background a warped face is pasted onto (nothing to do at reach 1)."""
        if warp.reach > 1.0:
            move_around(frame, warp.alignment, warp.reach, lambda u: self.fields.displacement(warp.spline, u))

    # ------------------------------------------------------------------------------ faces
    def detect_faces(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        """All faces (largest first, at most ``max_faces``), found on a copy reduced to
        ``detect_size``; landmarks in the pixel frame of ``image``."""
        small, f = reduce_for_detection(image, self.detect_size)
        faces = self.backend.detect(np.ascontiguousarray(small), path)
        return [scale_face(face, f) for face in faces[: self.max_faces]]

    def detect(self, image: np.ndarray, path: Path | None = None) -> Face:
        faces = self.detect_faces(image, path)
        if not faces:
            raise NoFaceError("no face found")
        return faces[0]

    def align(self, image: np.ndarray, path: Path | None = None) -> Aligned:
        """Detect the largest face and cut the crop the model was trained on."""
        face = self.detect(image, path)
        alignment = estimate_alignment(face.landmarks, self.size, self.zoom)
        around = surround(image, alignment)  # no stripes where the crop reaches past the picture
        crop = warp_to_crop(around.frame, around.alignment)
        return Aligned(crop, apply_affine(alignment.matrix, face.warp_landmarks()), alignment, face)

    # ------------------------------------------------------------------------------ crops
    def stylize_crop(
        self, crop: np.ndarray, landmarks: np.ndarray, strength: float | None = None
    ) -> np.ndarray:
        """Stylize an aligned ``(S, S, 3)`` crop whose landmarks ``(K, 2)`` are in its pixel frame."""
        if crop.shape[:2] != (self.size, self.size):
            raise GeostyleError(f"crop is {crop.shape[:2]}, the model expects {self.size}x{self.size}")
        cast = self.cast(crop)
        shown = expose(np.ascontiguousarray(crop), cast.gain)
        x = self._exposed_blob(shown, cast)
        spline = self.face_spline(landmarks, strength)
        if spline is None:
            return self.draw_features(from_blob(self.runtime.frame(x)), landmarks, shown)
        full, quarter = self.fields.crop_fields(spline)
        s = self.size
        maps = ((full + 1.0) * (s / 2.0) - 0.5).astype(np.float32)
        warped = cv2.remap(
            crop, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        shown = expose(warped, cast.gain)
        styled = from_blob(self.runtime.face(x, quarter, self._exposed_blob(shown, cast)))
        return self.draw_features(styled, self.target_pixels(spline), shown)

    def cast(self, image: np.ndarray) -> Cast:
        """How ``image`` (a whole frame, or the only picture a call gets) is toned before the generator:
        brightened where it is underexposed, by :attr:`exposure` of the gain that takes its white point
        to white (none at 0); and moved toward the photo set's average colour, none unless the model
        names one (:attr:`colourless_tint`), all the way for a greyscale photo, part of it for a nearly
        grey one (geostyle.infer.tone). Measured once per frame, so its face crops and background agree."""
        colour = NO_CAST if self.colourless_tint is None else measure_cast(image)
        if self.exposure <= 0.0:
            return colour
        return replace(colour, gain=measure_exposure(image) ** self.exposure)

    def _blob(self, image: np.ndarray, cast: Cast) -> np.ndarray:
        """``image`` as the runtime's input: brightened by ``cast.gain`` (:attr:`exposure`), then moved
        toward the photo set's average colour by ``cast``."""
        return self._exposed_blob(expose(image, cast.gain), cast)

    def _exposed_blob(self, exposed: np.ndarray, cast: Cast) -> np.ndarray:
        """:meth:`_blob` of a picture already brightened by ``cast.gain`` (``expose``): the outline is
        placed by that same picture, so it is brightened once."""
        if cast.weight > 0.0 and self.colourless_tint is not None:
            exposed = tint(exposed, self.colourless_tint, cast)
        return to_blob(exposed)

    def target_pixels(self, spline: FaceSpline) -> np.ndarray:
        """A solved warp's target landmarks ``(K, 2)`` in crop pixels (NaN where missing)."""
        return normalized_to_pixels(spline.target.astype(np.float64), self.size, self.size)

    @property
    def draws(self) -> bool:
        """Whether :meth:`draw_features` draws anything (anime eyes, the skin or the outline)."""
        return self.eyes > 0 or self.skin > 0 or self.outline > 0

    def draw_features(self, crop: np.ndarray, points: np.ndarray, photo: np.ndarray | None = None) -> np.ndarray:
        """``crop`` (a stylized face) with anime eyes (opacity :attr:`eyes`), anime skin (:attr:`skin`)
        and the face's outline (:attr:`outline`) at ``points (K, 2)`` (crop pixels, where the warp
        put the landmarks); ``crop`` itself when all are 0. The eyes read the crop as the generator
        drew it (their guard compares the iris with the ring around it, as it was measured); the skin
        leaves the eyes' holes, and dark lines, as they are. The outline is placed by ``photo`` (the
        photo as the generator saw it, warped where it was: its jaw stays put from frame to frame
        where the drawing's bands and flat regions shift), or by the crop with the eyes and skin
        drawn in where no photo is given (its snap and guard look for the face's edge, which neither
        reaches)."""
        out = crop
        if self.eyes > 0:
            out = draw_anime_eyes(out, points, self.eyes)
        if self.skin > 0:
            out = draw_anime_skin(out, points, self.skin)
        if self.outline > 0:
            out = draw_face_outline(out, points, self.outline, photo)
        return out

    def stylize(self, image: np.ndarray, path: Path | None = None, strength: float | None = None) -> Stylized:
        """The aligned stylized crop of the largest face, its warp reading the photo beyond the crop
        (``reach``). Raises :class:`NoFaceError`."""
        return self.stylize_aligned(image, self.align(image, path), strength)

    def stylize_aligned(self, image: np.ndarray, aligned: Aligned, strength: float | None = None) -> Stylized:
        """:meth:`stylize` of a face already found and aligned in ``image`` (:meth:`align`)."""
        h, w = image.shape[:2]
        cast = self.cast(image)
        # The warp stays pinned at the picture's edge, as on whole frames (the face keeps its shape);
        # what it reads beyond the edge is the crop's own fill (align), not the edge pixels repeated.
        warp = self.frame_warp(aligned.alignment, aligned.landmarks, h, w, strength)
        if warp is None:
            shown = expose(aligned.crop, cast.gain)
            styled = from_blob(self.runtime.frame(self._exposed_blob(shown, cast)))
            out = self.draw_features(styled, aligned.landmarks, shown)
        else:
            around = surround(np.ascontiguousarray(image, dtype=np.uint8), aligned.alignment, warp.reach)
            _, warped = cut_face(around.frame, around.alignment, warp.full, warp.reach)
            assert warped is not None
            shown = expose(warped, cast.gain)
            out = from_blob(self.runtime.face(self._blob(aligned.crop, cast), warp.quarter, self._exposed_blob(shown, cast)))
            out = self.draw_features(out, self.target_pixels(warp.spline), shown)
        return Stylized(out, aligned.crop, aligned.alignment, aligned.face)

    # ------------------------------------------------------------------------------ frames
    def warm_up(self, height: int, width: int) -> None:
        """Prepare the runtime for ``height x width`` frames now (ONNX Runtime / OpenVINO export and
        compile their fixed-size graphs on first use, about a second each), e.g. before a live loop."""
        from geostyle.infer.fields import identity_field

        wh, ww = working_size(height, width, self.work_size)
        self.runtime.frame(np.zeros((1, 3, wh, ww), np.float32))
        s = self.size
        crop = np.zeros((1, 3, s, s), np.float32)
        grid = np.ascontiguousarray(identity_field(s // 4, s // 4)[None], dtype=np.float32)
        self.runtime.face(crop, grid, crop)

    def stylize_background(self, image: np.ndarray, cast: Cast | None = None) -> np.ndarray:
        """The whole frame through the generator at the working resolution, without any warp,
        returned at the size of ``image``. ``cast``: :meth:`cast` of ``image``, where the caller has
        measured it already."""
        h, w = image.shape[:2]
        wh, ww = working_size(h, w, self.work_size)
        timer = self.timer
        with timer("resize"):
            small = np.ascontiguousarray(resize_to(image, wh, ww))
        with timer("G frame"):
            styled = from_blob(self.runtime.frame(self._blob(small, self.cast(image) if cast is None else cast)))
        with timer("resize"):
            return resize_to(styled, h, w)

    def render(
        self,
        image: np.ndarray,
        faces: Sequence[np.ndarray],
        strength: float | None = None,
        feather: float | None = None,
        background: Future | None = None,
        cast: Cast | None = None,
    ) -> np.ndarray:
        """The whole-frame product for known faces: ``faces`` is a list of ``(K, 2)`` landmark arrays
        in the pixel frame of ``image`` (from a detector or a tracker). Faces whose eyes or mouth are
        missing are left to the background pass. ``background``: that pass already started on this
        very ``image`` by :meth:`start_background` (a frame loop starts it before detecting faces, so
        detection runs beside it too), with the same ``cast``. ``cast``: the frame's tone, where the
        caller has it (a stream follows its exposure over frames); default :meth:`cast` of ``image``.
        Returns ``(H, W, 3)`` uint8."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise GeostyleError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        timer = self.timer
        feather = self.feather if feather is None else feather
        # The background pass and the faces are independent until they are blended: with
        # ``overlap`` the background runs in a worker thread (the runtimes release the GIL) while
        # this thread cuts, warps and stylizes the faces — on two cores most of the face work then
        # hides behind the larger frame pass.
        # One measurement of the frame's colour for the faces and the background pass (a pass started
        # by the caller measured the same frame itself).
        cast = self.cast(image) if cast is None else cast
        if background is None and self.overlap and faces:
            background = self.start_background(image, cast)
        if background is None:
            out = self.stylize_background(image, cast)
        h, w = image.shape[:2]
        styled: list[tuple[np.ndarray, Alignment]] = []
        warps: list[FrameWarp] = []
        try:
            # Smaller faces first, so where crops overlap the larger face ends on top.
            for landmarks in sorted(faces, key=_width):
                try:
                    alignment = estimate_alignment(landmarks, self.size, self.zoom)
                except ValueError:
                    continue
                crop_pts = apply_affine(alignment.matrix, landmarks)
                with timer("TPS field"):
                    warp = self.frame_warp(alignment, crop_pts, h, w, strength)
                with timer("warp"):
                    if warp is None:
                        crop, warped = cut_face(image, alignment, None)
                    else:
                        crop, warped = cut_face(image, alignment, warp.full, warp.reach)
                with timer("G face"):
                    # What the generator reads where the warp put it; the outline is placed by it too.
                    shown = expose(crop if warped is None else warped, cast.gain)
                    if warp is None or warped is None:
                        y = self.runtime.frame(self._exposed_blob(shown, cast))
                    else:
                        y = self.runtime.face(self._blob(crop, cast), warp.quarter, self._exposed_blob(shown, cast))
                face = from_blob(y)
                if self.draws:
                    with timer("drawings"):  # the anime eyes, skin and outline
                        moved = warp.spline if warp is not None and warped is not None else None
                        points = crop_pts if moved is None else self.target_pixels(moved)
                        face = self.draw_features(face, points, shown)
                styled.append((face, alignment))
                if warp is not None:
                    warps.append(warp)
        finally:
            if background is not None:
                out = background.result()  # also re-raises what the background pass raised
        with timer("move surroundings"):
            # The stylized background around each face moves with the face's warp (anchored at its
            # reach), so the pasted face meets a background of its own shape.
            for warp in warps:
                self.move_surroundings(out, warp)
        with timer("blend"):
            for face, alignment in styled:
                paste_face(out, face, alignment, feather)
        return out

    def warp_frame(
        self, image: np.ndarray, faces: Sequence[np.ndarray], strength: float | None = None
    ) -> np.ndarray:
        """The photo itself with every face moved toward the style geometry as :meth:`render` moves
        it, without the generator: what the geometry does to a frame, to look at and to test."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        out = image.copy()
        h, w = out.shape[:2]
        moved: list[tuple[np.ndarray, Alignment]] = []
        for landmarks in sorted(faces, key=_width):
            try:
                alignment = estimate_alignment(landmarks, self.size, self.zoom)
            except ValueError:
                continue
            warp = self.frame_warp(alignment, apply_affine(alignment.matrix, landmarks), h, w, strength)
            if warp is None:
                continue
            _, warped = cut_face(image, alignment, warp.full, warp.reach)  # as render cuts faces
            self.move_surroundings(out, warp)
            if warped is not None:
                moved.append((warped, alignment))
        for warped, alignment in moved:
            paste_face(out, warped, alignment, self.feather)
        return out

    def start_background(self, image: np.ndarray, cast: Cast | None = None) -> Future | None:
        """Start the whole-frame pass of ``image`` in the worker thread (None without ``overlap``);
        hand the result to :meth:`render` of the same image. ``cast`` as for :meth:`stylize_background`."""
        if not self.overlap:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geostyle-background")
        return self._pool.submit(self.stylize_background, np.ascontiguousarray(image, dtype=np.uint8), cast)

    def stylize_frame(
        self,
        image: np.ndarray,
        path: Path | None = None,
        strength: float | None = None,
        feather: float | None = None,
    ) -> np.ndarray:
        """The whole image stylized, every face (up to ``max_faces``) with the geometry treatment;
        an image without a face is stylized without a warp. Same ``(H, W, 3)`` uint8 as ``image``."""
        with self.timer("detect+landmarks"):
            faces = self.detect_faces(image, path)
        return self.render(image, [f.warp_landmarks() for f in faces], strength, feather)


def suggested_strength(extra: dict, source: str | Path) -> float:
    """The geometry strength a model suggests: its evaluation's choice (``extra.default_strength``)
    or :data:`DEFAULT_STRENGTH`. Raises :class:`CheckpointError` naming ``source`` when it is out of
    range (0 to 2) or not a number."""
    try:
        value = float(extra.get("default_strength", DEFAULT_STRENGTH))
    except (TypeError, ValueError):
        raise CheckpointError(f"{source}: default_strength {extra.get('default_strength')!r} is not a number") from None
    if not 0.0 <= value <= 2.0:
        raise CheckpointError(f"{source}: default_strength {value} is out of range")
    return value


def _width(landmarks: np.ndarray) -> float:
    """Horizontal extent of the present points: a hidden (NaN) jaw point must not make a face count
    as the smallest."""
    x = landmarks[:, 0][np.isfinite(landmarks[:, 0])]
    return float(np.ptp(x)) if x.size else 0.0
