"""``geostyle evaluate``: one model, its baselines, the same photos, the same judges.

Flow, per photo (a photo that fails at any step is counted and named, and left out of every row, so
all rows are measured on the same photos):

1. read it; detect and align the face with the model's stylizer; the target geometry of the crop;
2. stylize it as an aligned crop (``Stylizer.stylize``) and as a full frame (``Stylizer.stylize_frame``);
   both go to ``OUT/outputs/crop|full/<stem>.png``; the same for ``--compare``;
3. make the baselines from the same photo (full frame) and the same aligned crop: the photo itself,
   grayscale, pencil, cartoon (:mod:`geostyle.eval.baselines`);
4. measure every row's full frame and crop: Inception features (KID/FID later, against the style
   images), animeface hit (anime styles), dlib embedding in the input's face box, photo landmarks vs
   the target geometry, and, when the photo has a ground truth, SSIM / ST-LPIPS / feature distance.

Then the style images' own row (KID/FID of one half of the style set against the other half, their
anime rate, the identity of the artists' drawings against their photos) and the speed of the
generator(s). Results: ``metrics.json``, ``report.md``, ``contact_sheet.jpg`` (:mod:`geostyle.eval.report`).
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.data.images import list_images, load_image, save_image
from geostyle.errors import GeostyleError
from geostyle.eval.baselines import FILTERS
from geostyle.eval.cache import cached_array
from geostyle.eval.fidelity import FEATURES_ID, InceptionFeatures, fid, kid
from geostyle.eval.geometry import landmark_nme
from geostyle.eval.identity import Box, FaceEmbedder, identity_per_output, identity_scores
from geostyle.eval.paired import cosine_distance, lpips, match_size, ssim
from geostyle.eval.pairing import Pairing, load_pairing
from geostyle.faces.align import Alignment, apply_affine, surround, warp_to_crop

KINDS = ("anime", "sketch", "other")
STYLE_ROW = "style_images"
COMPARE_ROW = "compare"
# Keys of every row of metrics.json (the model at the top level, each baseline under "baselines").
ROW_KEYS = (
    "kid",
    "kid_std",
    "fid",
    "kid_crop",
    "kid_crop_std",
    "fid_crop",
    "anime_rate",
    "anime_rate_crop",
    "identity_rank1",
    "identity_distance",
    "identity_rank1_crop",
    "identity_distance_crop",
    "landmark_nme",
    "detection_rate",
    "ssim",
    "lpips",
    "feature_distance",
    "n_outputs",
)


@dataclass
class EvalOptions:
    model: str
    photos: Path
    styles: Path
    out: Path
    pairs: str | None = None  # folder of truth images (stem rule) or photo,truth CSV
    truth_dir: Path | None = None  # where CSV truth stems are looked up (default: --styles)
    n: int = 0  # photos to evaluate after exclusion and skip (0 = all)
    skip: int = 0  # leave out the first N photos (sorted, after exclusion)
    max_styles: int = 0  # style images used (0 = all, after exclusion)
    compare: str | None = None
    kind: str | None = None  # anime | sketch | other (default: from the model's config name)
    # Which of the model's own training files to keep: "" (none), "photos", "styles" or "all".
    include_trained: str = ""
    exclude: list[Path] = field(default_factory=list)  # files listing stems to leave out (both sets)
    strength: float | None = None
    part_gains: dict[str, float] | None = None  # None: the model's own (extra.part_gains)
    ink: float | None = None  # None: the model's own (its generator's ink)
    ink_grain: float | None = None  # None: the model's own (its generator's ink_grain)
    dark_colour: float | None = None  # None: the model's own
    dark_depth: float | None = None  # None: the model's own
    lift_cap: float | None = None  # None: the model's own
    clear_marks: float | None = None  # None: the model's own
    smooth_head: float | None = None  # None: the model's own
    eyes: float | None = None  # None: the model's own (extra.eyes)
    outline: float | None = None  # None: the model's own (extra.outline)
    skin: float | None = None  # None: the model's own (extra.skin)
    exposure: float | None = None  # None: the model's own (extra.exposure)
    backend: str = "mediapipe"  # face detector of the stylizer
    landmark_backend: str | None = None  # detector judging the outputs' geometry (default: backend)
    cache_dir: Path | None = None
    threads: int = 0
    speed_size: int = 512
    speed_repeats: int = 10  # 0 = params and FLOPs only
    kid_subsets: int = 100
    # The classical baselines (photo, grayscale, pencil, cartoon) in the same run; off only where
    # another report of the same photos already has them (the data-efficiency arms after the first).
    baselines: bool = True
    seed: int = 0
    sheet_rows: int = 8
    progress: bool = True
    command: str = ""


@dataclass
class Selection:
    paths: list[Path]
    found: int
    excluded_trained: list[str]
    excluded_listed: list[str]


@dataclass
class Tally:
    """Per-image measurements of one row, appended photo by photo (all lists aligned)."""

    feats: list[np.ndarray] = field(default_factory=list)
    feats_crop: list[np.ndarray] = field(default_factory=list)
    anime: list[bool] = field(default_factory=list)
    anime_crop: list[bool] = field(default_factory=list)
    emb: list[np.ndarray] = field(default_factory=list)
    emb_crop: list[np.ndarray] = field(default_factory=list)
    input_crop: list[np.ndarray] = field(default_factory=list)  # embedding of the crop it came from
    own: list[int] = field(default_factory=list)  # index of its input photo
    detected: list[bool] = field(default_factory=list)
    nme: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] = field(default_factory=list)
    feature_distance: list[float] = field(default_factory=list)
    per_image: list[dict[str, Any]] = field(default_factory=list)


def identity_per_photo(tally: Tally, inputs: list[np.ndarray]) -> dict[str, float]:
    """One row's identity rates (full frames among all evaluated inputs, crops among their source
    crops); each photo's own result also goes into its ``per_image`` record, so two rows of one
    run can be compared photo by photo (a paired test, ``geostyle.eval.versus``)."""
    full = identity_per_output(np.stack(tally.emb), np.stack(inputs), np.array(tally.own))
    crop = identity_per_output(np.stack(tally.emb_crop), np.stack(tally.input_crop))
    for record, d, hit, d_crop, hit_crop in zip(tally.per_image, *full, *crop, strict=True):
        record.update(
            identity_distance=float(d),
            identity_hit=bool(hit),
            identity_distance_crop=float(d_crop),
            identity_hit_crop=bool(hit_crop),
        )
    return {
        "identity_distance": float(full[0].mean()),
        "identity_rank1": float(full[1].mean()),
        "identity_distance_crop": float(crop[0].mean()),
        "identity_rank1_crop": float(crop[1].mean()),
    }


@dataclass
class Produced:
    """One stylizer's result for one photo."""

    full: np.ndarray  # (H, W, 3) uint8, same size as the photo
    crop: np.ndarray  # (S, S, 3) uint8 stylized aligned crop
    source_crop: np.ndarray  # (S, S, 3) uint8 aligned photo crop
    alignment: Alignment  # photo pixels -> crop pixels
    target: np.ndarray  # (K, 2) target landmarks, crop pixel frame
    box_crop: Box  # face box in the crop (for the identity embedding)
    input_crop: np.ndarray  # (128,) embedding of source_crop


def read_stem_list(path: Path) -> list[str]:
    """Stems (or file names) one a line; ``#`` comments and blank lines skipped."""
    if not Path(path).is_file():
        raise GeostyleError(f"{path}: no such exclusion list")
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(Path(line).stem)
    return out


def select(
    folder: Path, trained: set[str], listed: set[str], skip: int = 0, n: int = 0, what: str = "photos"
) -> Selection:
    """Images of ``folder`` (sorted), minus trained-on and listed stems, then ``skip``, then ``n``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GeostyleError(f"{folder}: no such folder of {what}")
    paths = list_images(folder)
    found = len(paths)
    out_trained = [p.stem for p in paths if p.stem in trained]
    out_listed = [p.stem for p in paths if p.stem in listed and p.stem not in trained]
    keep = [p for p in paths if p.stem not in trained and p.stem not in listed]
    keep = keep[skip:]
    if n > 0:
        keep = keep[:n]
    if not keep:
        raise GeostyleError(f"{folder}: no {what} left to evaluate (found {found})")
    return Selection(keep, found, out_trained, out_listed)


def style_kind(release_metadata: dict[str, Any], kind: str | None) -> str:
    if kind is not None:
        if kind not in KINDS:
            raise GeostyleError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return kind
    name = str(release_metadata.get("config", {}).get("name", "")).lower()
    for k in ("anime", "sketch"):
        if k in name:
            return k
    return "other"


def trained_on(release_metadata: dict[str, Any]) -> dict[str, list[str]] | None:
    value = release_metadata.get("extra", {}).get("trained_on")
    if not isinstance(value, dict):
        return None
    return {k: [Path(str(s)).stem for s in value.get(k, [])] for k in ("photos", "styles")}


def _box_from_points(matrix: np.ndarray, box: Box) -> Box:
    x0, y0, x1, y1 = box
    corners = apply_affine(matrix, np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64))
    return (
        float(corners[:, 0].min()),
        float(corners[:, 1].min()),
        float(corners[:, 0].max()),
        float(corners[:, 1].max()),
    )


class Evaluation:
    """Holds the judges and the rows; :meth:`run` does the whole evaluation."""

    def __init__(self, options: EvalOptions) -> None:
        import torch

        from geostyle.infer.stylize import Stylizer

        self.o = options
        if options.threads > 0:
            torch.set_num_threads(options.threads)
        self.stylizer = Stylizer(
            options.model,
            strength=options.strength,
            part_gains=options.part_gains,
            ink=options.ink,
            ink_grain=options.ink_grain,
            dark_colour=options.dark_colour,
            dark_depth=options.dark_depth,
            lift_cap=options.lift_cap,
            clear_marks=options.clear_marks,
            smooth_head=options.smooth_head,
            eyes=options.eyes,
            outline=options.outline,
            skin=options.skin,
            exposure=options.exposure,
            backend=options.backend,
        )
        self.compare = (
            Stylizer(options.compare, strength=options.strength, backend=options.backend)
            if options.compare
            else None
        )
        self.metadata = self.stylizer.release.metadata
        self.kind = style_kind(self.metadata, options.kind)
        self.inception = InceptionFeatures()
        self.embedder = FaceEmbedder()
        self.judge = None
        if self.kind == "anime":
            from geostyle.eval.anime import AnimeFaceJudge

            self.judge = AnimeFaceJudge()
        from geostyle.faces.backends.chain import build_backend

        self.landmarks = build_backend(options.landmark_backend or options.backend)
        self.rows: dict[str, Tally] = {"model": Tally()}
        if self.compare is not None:
            self.rows[COMPARE_ROW] = Tally()
        self.filters = dict(FILTERS) if options.baselines else {}
        for name in self.filters:
            self.rows[name] = Tally()
        self.style_tally = Tally()
        self.inputs: list[np.ndarray] = []  # full-frame input embeddings, one per evaluated photo
        self.stems: list[str] = []
        self.failures: list[dict[str, str]] = []
        self.sheet: list[list[np.ndarray]] = []
        self.sheet_labels: list[str] = []

    # ------------------------------------------------------------------ inputs
    def select_inputs(self) -> tuple[Selection, Selection, str]:
        o = self.o
        listed: set[str] = set()
        for path in o.exclude:
            listed.update(read_stem_list(path))
        trained = trained_on(self.metadata)
        if o.include_trained not in ("", "photos", "styles", "all"):
            raise GeostyleError(f"include_trained must be photos, styles or all, got {o.include_trained!r}")
        trained_photos: set[str] = set()
        trained_styles: set[str] = set()
        if o.include_trained == "all":
            note = "--include-trained: the model's training files were not excluded"
        elif trained is None:
            note = "the model's metadata has no trained_on list: nothing excluded from it"
        elif o.include_trained == "photos":
            # A user's own photo folder often has nothing left out of training (quick evaluations).
            note = "--include-trained photos: the photos the model was trained on were kept; its style images were excluded"
            trained_styles = set(trained["styles"])
        elif o.include_trained == "styles":
            # A few-shot style set has no held-out exemplars; KID then measures against those it learnt.
            note = "--include-trained styles: the style images the model was trained on were kept; its photos were excluded"
            trained_photos = set(trained["photos"])
        else:
            note = "files the model was trained on (metadata extra.trained_on) were excluded"
            trained_photos, trained_styles = set(trained["photos"]), set(trained["styles"])
        photos = select(o.photos, trained_photos, listed, o.skip, o.n, "photos")
        styles = select(o.styles, trained_styles, listed, 0, o.max_styles, "style images")
        return photos, styles, note

    # ------------------------------------------------------------------ one photo
    def produce(self, stylizer, image: np.ndarray, path: Path) -> Produced:
        aligned = stylizer.align(image, path)
        _, target = stylizer.target_field(aligned.landmarks, aligned.crop.shape[0])
        result = stylizer.stylize(image, path)
        full = stylizer.stylize_frame(image, path)
        if full.shape != image.shape:
            raise GeostyleError(f"stylize_frame returned {full.shape} for an image of {image.shape}")
        box_crop = self.embedder.face_box(result.source_crop) or _box_from_points(
            aligned.alignment.matrix, aligned.face.box
        )
        return Produced(
            full=full,
            crop=result.crop,
            source_crop=result.source_crop,
            alignment=aligned.alignment,
            target=target,
            box_crop=box_crop,
            input_crop=self.embedder.embed(result.source_crop, box_crop),
        )

    def measure(
        self,
        full: np.ndarray,
        crop: np.ndarray,
        made: Produced,
        box: Box,
        truth: np.ndarray | None,
        truth_feat: np.ndarray | None,
    ) -> dict[str, Any]:
        """Every per-image measurement of one row's output for one photo."""
        feat = self.inception([full])[0]
        m: dict[str, Any] = {
            "feat": feat,
            "feat_crop": self.inception([crop])[0],
            "emb": self.embedder.embed(full, box),
            "emb_crop": self.embedder.embed(crop, made.box_crop),
            "input_crop": made.input_crop,
        }
        if self.judge is not None:
            before = self.judge.timeouts
            m["anime_likelihood"] = self.judge.likelihood(full)
            m["anime_likelihood_crop"] = self.judge.likelihood(crop)
            m["anime"] = m["anime_likelihood"] >= self.judge.threshold
            m["anime_crop"] = m["anime_likelihood_crop"] >= self.judge.threshold
            m["anime_timeouts"] = self.judge.timeouts - before
        faces = self.landmarks.detect(np.ascontiguousarray(full), None)
        m["detected"] = bool(faces)
        if faces:
            nme = landmark_nme(apply_affine(made.alignment.matrix, faces[0].landmarks), made.target)
            if nme is not None:
                m["nme"] = nme
        if truth is not None and truth_feat is not None:
            m["ssim"] = ssim(full, truth)
            m["lpips"] = lpips(full, truth)
            m["feature_distance"] = cosine_distance(feat, truth_feat)
        return m

    def commit(self, tally: Tally, m: dict[str, Any], own: int, stem: str) -> None:
        tally.feats.append(m["feat"])
        tally.feats_crop.append(m["feat_crop"])
        tally.emb.append(m["emb"])
        tally.emb_crop.append(m["emb_crop"])
        tally.input_crop.append(m["input_crop"])
        tally.own.append(own)
        if "anime" in m:
            tally.anime.append(m["anime"])
            tally.anime_crop.append(m["anime_crop"])
        tally.detected.append(m["detected"])
        if "nme" in m:
            tally.nme.append(m["nme"])
        record: dict[str, Any] = {"photo": stem, "detected": m["detected"], "nme": m.get("nme")}
        if m.get("anime_timeouts"):
            record["anime_timeouts"] = m["anime_timeouts"]
        if "anime" in m:
            # the judge's decision as the rate counts it (a timed-out likelihood is NaN: a fail)
            record.update(
                anime=m["anime"],
                anime_crop=m["anime_crop"],
                anime_likelihood=m["anime_likelihood"],
                anime_likelihood_crop=m["anime_likelihood_crop"],
            )
        for key in ("ssim", "lpips", "feature_distance"):
            if key in m:
                getattr(tally, key).append(m[key])
                record[key] = m[key]
        tally.per_image.append(record)

    def photo(self, path: Path, truth_path: Path | None, sheet: bool) -> None:
        image = load_image(path)
        main = self.produce(self.stylizer, image, path)
        other = self.produce(self.compare, image, path) if self.compare is not None else None
        face = self.stylizer.detect(image, path)
        x0, y0, x1, y1 = (float(v) for v in face.box)
        box = self.embedder.face_box(image) or (x0, y0, x1, y1)
        input_emb = self.embedder.embed(image, box)
        truth = truth_crop = truth_feat = None
        if truth_path is not None:
            truth = match_size(load_image(truth_path), image.shape)
            truth_feat = self.inception([truth])[0]
            around = surround(truth, main.alignment)  # the same fill past the edges as the photo's crop
            truth_crop = warp_to_crop(around.frame, around.alignment)
        results: dict[str, dict[str, Any]] = {}
        results["model"] = self.measure(main.full, main.crop, main, box, truth, truth_feat)
        if other is not None:
            results[COMPARE_ROW] = self.measure(other.full, other.crop, other, box, truth, truth_feat)
        made: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, fn in self.filters.items():
            made[name] = (fn(image), fn(main.source_crop))
            results[name] = self.measure(*made[name], main, box, truth, truth_feat)
        style: dict[str, Any] | None = None
        if truth is not None and truth_crop is not None:
            style = {
                "emb": self.embedder.embed(truth, box),
                "emb_crop": self.embedder.embed(truth_crop, main.box_crop),
            }
        # Everything measured: only now does the photo enter the rows (a failure above leaves no trace).
        stem = path.stem
        own = len(self.inputs)
        self.inputs.append(input_emb)
        self.stems.append(stem)
        for name, m in results.items():
            self.commit(self.rows[name], m, own, stem)
        if style is not None:
            self.style_tally.emb.append(style["emb"])
            self.style_tally.emb_crop.append(style["emb_crop"])
            self.style_tally.input_crop.append(main.input_crop)
            self.style_tally.own.append(own)
        out = self.o.out / "outputs"
        save_image(out / "full" / f"{stem}.png", main.full)
        save_image(out / "crop" / f"{stem}.png", main.crop)
        if other is not None:
            save_image(out / "compare" / "full" / f"{stem}.png", other.full)
            save_image(out / "compare" / "crop" / f"{stem}.png", other.crop)
        if sheet:
            from geostyle.eval.report import thumbnail

            row = [thumbnail(image)] + [thumbnail(made[n][0]) for n in self.filters if n != "photo"]
            row += [thumbnail(main.full), thumbnail(main.crop)]
            if other is not None:
                row += [thumbnail(other.full)]
            if truth is not None:
                row += [thumbnail(truth)]
            self.sheet.append(row)

    # ------------------------------------------------------------------ the style images' own row
    def style_reference(self, styles: list[Path]) -> tuple[np.ndarray, list[str]]:
        """Inception features of the readable style images (cached) and the unreadable ones' names."""
        readable, bad = [], []
        for p in styles:
            try:
                load_image(p)
                readable.append(p)
            except GeostyleError:
                bad.append(p.name)
        if len(readable) < 2:
            raise GeostyleError(f"{self.o.styles}: fewer than 2 readable style images")
        cache = self._cache_dir()
        feats, _ = cached_array(
            cache,
            f"inception/{FEATURES_ID}",
            readable,
            lambda: self.inception(load_image(p) for p in readable),
        )
        if self.judge is not None:
            judge = self.judge
            hits, _ = cached_array(
                cache,
                f"animeface/pyramid-0.5/threshold-{judge.threshold:g}/v1",
                readable,
                lambda: np.array([judge(load_image(p)) for p in readable], dtype=bool),
            )
            self.style_tally.anime = [bool(h) for h in hits]
        self.style_paths = readable
        return feats, bad

    def _cache_dir(self) -> Path | None:
        if self.o.cache_dir is not None:
            return self.o.cache_dir
        return Path.home() / ".cache" / "geostyle" / "eval"

    # ------------------------------------------------------------------ aggregation
    def row_metrics(self, tally: Tally, style: np.ndarray) -> dict[str, Any]:
        o = self.o
        row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
        n = len(tally.feats)
        row["n_outputs"] = n
        if n >= 2:
            feats, feats_crop = np.stack(tally.feats), np.stack(tally.feats_crop)
            k, s = kid(feats, style, subsets=o.kid_subsets, seed=o.seed)
            row.update(kid=1000 * k, kid_std=1000 * s, fid=fid(feats, style))
            k, s = kid(feats_crop, style, subsets=o.kid_subsets, seed=o.seed)
            row.update(kid_crop=1000 * k, kid_crop_std=1000 * s, fid_crop=fid(feats_crop, style))
        if self.kind == "anime" and tally.anime:
            row["anime_rate"] = float(np.mean(tally.anime))
            row["anime_rate_crop"] = float(np.mean(tally.anime_crop))
        if n:
            row.update(identity_per_photo(tally, self.inputs))
            row["detection_rate"] = float(np.mean(tally.detected))
            row["landmark_nme"] = float(np.mean(tally.nme)) if tally.nme else None
        for key in ("ssim", "lpips", "feature_distance"):
            values = getattr(tally, key)
            row[key] = float(np.mean(values)) if values else None
        return row

    def style_row(self, style: np.ndarray) -> dict[str, Any]:
        """The style images' own scores where they mean something."""
        row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
        row["n_outputs"] = len(style)
        if len(style) >= 4:
            a, b = style[0::2], style[1::2]
            k, s = kid(a, b, subsets=self.o.kid_subsets, seed=self.o.seed)
            row.update(kid=1000 * k, kid_std=1000 * s, fid=fid(a, b))
        if self.kind == "anime" and self.style_tally.anime:
            row["anime_rate"] = float(np.mean(self.style_tally.anime))
        t = self.style_tally
        if t.emb:
            # The artists' drawings against their own photos, among all evaluated photos.
            row["identity_distance"], row["identity_rank1"] = identity_scores(
                np.stack(t.emb), np.stack(self.inputs), np.array(t.own)
            )
            crop_inputs = np.stack(self.rows["model"].input_crop)
            row["identity_distance_crop"], row["identity_rank1_crop"] = identity_scores(
                np.stack(t.emb_crop), crop_inputs, np.array(t.own)
            )
        return row

    # ------------------------------------------------------------------ all
    def run(self) -> dict[str, Any]:
        from tqdm import tqdm

        from geostyle.eval import report
        from geostyle.eval.speed import generator_speed

        o = self.o
        start = time.perf_counter()
        photos, styles, note = self.select_inputs()
        pairing: Pairing | None = None
        if o.pairs:
            pairing = load_pairing(o.pairs, photos.paths, o.truth_dir or o.styles)
        style_feats, bad_styles = self.style_reference(styles.paths)
        picks = (
            set(
                np.unique(
                    np.linspace(0, len(photos.paths) - 1, min(o.sheet_rows, len(photos.paths)))
                    .round()
                    .astype(int)
                ).tolist()
            )
            if o.sheet_rows > 0
            else set()
        )
        bar = tqdm(photos.paths, desc="evaluate", unit="photo", disable=not o.progress)
        for i, path in enumerate(bar):
            truth = pairing.truth.get(path.stem) if pairing is not None else None
            try:
                self.photo(path, truth, i in picks)
            except Exception as exc:  # one bad photo never aborts the run: it is counted and named
                self.failures.append(
                    {"photo": path.name, "reason": type(exc).__name__, "detail": str(exc)[:300]}
                )
            bar.set_postfix(failed=len(self.failures))
        if not self.inputs:
            raise GeostyleError(
                f"every photo failed ({len(self.failures)}); first: "
                f"{self.failures[0]['photo']}: {self.failures[0]['detail']}"
            )
        model_row = self.row_metrics(self.rows["model"], style_feats)
        baselines: dict[str, dict[str, Any]] = {}
        if self.compare is not None:
            baselines[COMPARE_ROW] = {
                "model": str(o.compare),
                **self.row_metrics(self.rows[COMPARE_ROW], style_feats),
            }
        for name in self.filters:
            baselines[name] = self.row_metrics(self.rows[name], style_feats)
        baselines[STYLE_ROW] = self.style_row(style_feats)
        speed = {"model": generator_speed(self.stylizer.release.generator, o.speed_size, o.speed_repeats)}
        if self.compare is not None:
            speed[COMPARE_ROW] = generator_speed(
                self.compare.release.generator, o.speed_size, o.speed_repeats
            )
        metrics: dict[str, Any] = {
            "model": str(o.model),
            "model_path": str(self.stylizer.path),
            "kind": self.kind,
            "style_images": len(style_feats),
            **model_row,
            "speed": speed,
            "baselines": baselines,
            "inputs": {
                "photos": str(o.photos),
                "styles": str(o.styles),
                "photos_found": photos.found,
                "photos_selected": len(photos.paths),
                "photos_evaluated": len(self.inputs),
                "photos_failed": len(self.failures),
                "styles_found": styles.found,
                "styles_used": len(style_feats),
                "styles_unreadable": bad_styles,
                "skip": o.skip,
                "n": o.n,
                "trained_on": note,
                "include_trained": o.include_trained,
                "excluded_trained": {
                    "photos": len(photos.excluded_trained),
                    "styles": len(styles.excluded_trained),
                },
                "excluded_listed": {
                    "files": [str(p) for p in o.exclude],
                    "photos": len(photos.excluded_listed),
                    "styles": len(styles.excluded_listed),
                },
            },
            "pairs": pairing.to_json() if pairing is not None else None,
            "failures": self.failures,
            "anime_timeouts": {
                "total": self.judge.timeouts if self.judge is not None else 0,
                "outputs": [
                    {"row": name, "photo": r["photo"]}
                    for name, t in self.rows.items()
                    for r in t.per_image
                    if r.get("anime_timeouts")
                ],
            },
            "per_image": {name: t.per_image for name, t in self.rows.items()},
            "photos_evaluated": self.stems,
            "settings": {
                "strength": self.stylizer.strength,
                "part_gains": self.stylizer.part_gains,
                "ink": self.stylizer.ink,
                "ink_grain": self.stylizer.ink_grain,
                "dark_colour": self.stylizer.dark_colour,
                "dark_depth": self.stylizer.dark_depth,
                "lift_cap": self.stylizer.lift_cap,
                "clear_marks": self.stylizer.clear_marks,
                "smooth_head": self.stylizer.smooth_head,
                "eyes": self.stylizer.eyes,
                "outline": self.stylizer.outline,
                "skin": self.stylizer.skin,
                "exposure": self.stylizer.exposure,
                "resolution": self.stylizer.size,
                "backend": o.backend,
                "landmark_backend": o.landmark_backend or o.backend,
                "kid_subsets": o.kid_subsets,
                "kid_subset_size": "min(1000, n_outputs, n_styles)",
                "features": FEATURES_ID,
                "seed": o.seed,
            },
            "command": o.command,
            "machine": {"platform": platform.platform(), "cpu_count": __import__("os").cpu_count()},
            "seconds": round(time.perf_counter() - start, 1),
        }
        labels = ["input", *[n for n in self.filters if n != "photo"], "model", "model crop"]
        if self.compare is not None:
            labels.append(f"compare: {Path(str(o.compare)).stem}")
        if pairing is not None:
            labels.append("truth")
        if self.judge is not None:
            self.judge.close()
        report.write_report(o.out, metrics, self.sheet, labels)
        return metrics


def evaluate(options: EvalOptions) -> dict[str, Any]:
    """Run the whole evaluation; writes ``metrics.json``, ``report.md`` and ``contact_sheet.jpg`` into
    ``options.out`` and returns the metrics."""
    options.out = Path(options.out)
    options.out.mkdir(parents=True, exist_ok=True)
    return Evaluation(options).run()
