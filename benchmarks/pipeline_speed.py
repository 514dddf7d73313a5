"""Speed of the inference pipeline: the generator alone, the whole video pipeline stage by stage, the
live loop, temporal stability, memory, and two published generators as speed references.

    python benchmarks/pipeline_speed.py                 # everything (~10-20 min on a quiet 2-core CPU)
    python benchmarks/pipeline_speed.py --quick         # fewer repeats, one video

Sections (all in one run, so every number saw the same machine load):

1. **Generator latency** at 256 and 512 (batch 1): PyTorch; ONNX Runtime with 1 and 2 threads for
   the frame graph (no warp), the face graph (the TPS warp applied to the features in the graph, the
   pixel warp supplied as an input: the product path), and the graph with the whole warp inside
   (full-resolution field as an input); OpenVINO (float32) and ncnn with the same threads. The
   *product path* row adds what the pipeline does around the face graph: the TPS field (NumPy) and
   the one resampling that cuts the warped crop from the frame.
2. **Peers**: the generators of AnimeGANv2 and White-box Cartoonization built from their published
   layer lists (``benchmarks/peers.py``, random weights: speed references only) at the same sizes,
   runtime and threads; ratios = their time / ours.
3. **Pipeline**: every video of ``../shared/data/video`` through ``stylize_video`` (ONNX Runtime, 2
   threads): fps and ms per frame for each stage (decode, detect+landmarks, track+smooth, TPS field,
   warp, G frame, G face, blend, temporal filter, encode); the live loop headless (overlay drawn,
   frames written) on the talking head.
4. **Stability**: frame-to-frame change of output minus input (``geostyle.video.stability``) with
   smoothing off, landmarks only, and landmarks + temporal filter.
5. **Memory**: peak RSS of this process; a 12000x9000 photo through ``geostyle stylize`` in a
   subprocess (seconds, peak RSS).

Latency = median of the runs (the minimum is kept too: on a shared machine it estimates the
uncontended cost); the runs of section 1 are interleaved in passes so load affects all alike. Load
averages are recorded before and after. Prints tables; writes ``benchmarks/results/pipeline_speed.json``
and ``.md``. Two runs can differ by more than a change is worth: to compare models or code revisions,
``benchmarks/product_path_ab.py`` times their product paths taking turns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geostyle.eval.speed import summarize
from geostyle.infer.timing import machine_info, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VIDEOS = Path(os.environ.get("GEOSTYLE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "video"
sys.path.insert(0, str(Path(__file__).resolve().parent))


# ------------------------------------------------------------------------------------ section 1 + 2
def real_face_inputs(stylizer, size: int) -> dict[str, Any]:
    """The bundled portrait aligned at ``size`` with its real TPS field (as the pipeline makes them)."""
    from geostyle.export.exporter import parity_inputs

    crop, quarter, warped = parity_inputs(stylizer, "face", size)
    frame = parity_inputs(stylizer, "frame", size)[0]
    return {"image": crop, "grid": quarter, "warped": warped, "frame": frame}


class ProductPath:
    """The product path on the bundled portrait at ``size``: the face's TPS field (NumPy), the one
    resampling that cuts the crop and the warped crop from the frame, the face graph
    (``path(session)``) and the anime eyes and face outline drawn after it where the model has them. Also run by
    ``product_path_ab.py``, there on other revisions' code."""

    def __init__(self, stylizer, size: int) -> None:
        from geostyle.data.images import load_image
        from geostyle.faces.align import apply_affine, estimate_alignment
        from geostyle.infer.composite import frame_pins, widened
        from geostyle.infer.demo import EXAMPLE
        from geostyle.infer.fields import FaceFieldSolver

        self.stylizer = stylizer
        self.size = size
        self.photo = load_image(EXAMPLE)
        face = stylizer.detect(self.photo)
        self.alignment = estimate_alignment(face.landmarks, size, stylizer.zoom)
        self.points = apply_affine(self.alignment.matrix, face.landmarks)
        self.solver = FaceFieldSolver(stylizer.aligner, size)
        # As the whole-frame product solves it: anchored ``reach`` crop half-sides out, the photo's
        # border pinned (docs/landmarks.md, "The warp's reach").
        self.reach = widened(self.alignment, stylizer.reach).size / size
        self.pins = frame_pins(self.alignment, *self.photo.shape[:2], self.reach)

    def spline(self):
        return self.solver.solve(self.points, self.stylizer.strength, self.reach, self.pins, limit=True)

    def field(self):
        return self.solver.crop_fields(self.spline())

    def cut(self, full=None):
        from geostyle.infer.composite import cut_face

        return cut_face(self.photo, self.alignment, self.field()[0] if full is None else full, self.reach)

    def __call__(self, session) -> None:
        from geostyle.infer.runtime import from_blob, to_blob

        spline = self.spline()
        full, quarter = self.solver.crop_fields(spline)
        crop, warped = self.cut(full)
        y = session.run(None, {"image": to_blob(crop), "grid": quarter, "warped": to_blob(warped)})[0]
        # The anime eyes and face outline the stylizer draws after the graph (a model with both at
        # 0 draws neither). product_path_ab.py runs this on other revisions' code too: before the
        # outline a stylizer drew only eyes (draw_eyes), before the eyes nothing.
        draw = getattr(self.stylizer, "draw_features", None)
        draws = getattr(self.stylizer, "draws", False)
        if draw is None:
            draw, draws = getattr(self.stylizer, "draw_eyes", None), getattr(self.stylizer, "eyes", 0.0) > 0
        if draws and draw is not None:
            from geostyle.faces.landmarks import normalized_to_pixels

            points = normalized_to_pixels(spline.target.astype(np.float64), self.size, self.size)
            draw(from_blob(y), points)


def build_calls(stylizer, size: int, threads_list: list[int], tmp: Path, peers: bool) -> dict[str, Any]:
    """name -> (callable, repeats weight). Names: ``<runtime>_<graph>_<threads>t``."""
    from geostyle.infer.composite import move_around
    from geostyle.infer.runtime import export_graph, openvino_model, ort_session
    from geostyle.nets.generator import export_generator_onnx
    from geostyle.warp.grid import resize_grid

    g = stylizer.release.generator.eval()
    x = real_face_inputs(stylizer, size)
    calls: dict[str, Any] = {}
    tx = {k: torch.from_numpy(v) for k, v in x.items()}
    full_grid = resize_grid(tx["grid"], size, size).contiguous()

    def torch_call(*args):
        def run():
            with torch.no_grad():
                g(*args)

        return run

    calls["torch_frame"] = torch_call(tx["frame"])
    calls["torch_face"] = torch_call(tx["image"], tx["grid"], tx["warped"])
    paths = {}
    for kind in ("frame", "face"):
        paths[kind] = export_graph(g, tmp / f"{kind}_{size}.onnx", kind, size, size)
    paths["warp_in_graph"] = tmp / f"full_{size}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_generator_onnx(g, paths["warp_in_graph"], size, size, (size, size), with_grid=True)
    feeds = {
        "frame": {"image": x["frame"]},
        "face": {"image": x["image"], "grid": x["grid"], "warped": x["warped"]},
        "warp_in_graph": {"image": x["image"], "grid": full_grid.numpy()},
    }
    for t in threads_list:
        for kind, path in paths.items():
            session = ort_session(path, t)
            calls[f"ort_{kind}_{t}t"] = lambda s=session, f=feeds[kind]: s.run(None, f)
        # ONNX Runtime's default spinning (busy-wait between runs): faster for G alone, but it takes
        # the cores the pipeline's next stages need; the runtime turns it off.
        spin = ort_session(paths["face"], t, spinning=True)
        calls[f"ort_face_spinning_{t}t"] = lambda s=spin, f=feeds["face"]: s.run(None, f)
    t2 = max(threads_list)
    try:
        for kind in ("frame", "face"):
            compiled = openvino_model(paths[kind], t2)
            request = compiled.create_infer_request()
            inputs = [feeds[kind][i.get_any_name()] for i in compiled.inputs]
            calls[f"openvino_{kind}_{t2}t"] = lambda r=request, i=inputs: r.infer(i)
    except Exception as exc:  # optional runtime
        print(f"openvino skipped: {exc}")
    try:
        from geostyle.export import export_model

        for kind in ("frame", "face"):
            report = export_model(stylizer.path, tmp / f"ncnn_{kind}_{size}", fmt="ncnn", size=size, graph=kind)
            param, weights = report.files[:2]
            import ncnn

            net = ncnn.Net()
            net.opt.num_threads = t2
            net.load_param(str(param))
            net.load_model(str(weights))
            ins = [feeds[kind]["image"]] if kind == "frame" else [x["image"], x["grid"], x["warped"]]

            def ncnn_call(net=net, ins=ins):
                with net.create_extractor() as ex:
                    for i, a in enumerate(ins):
                        ex.input(f"in{i}", ncnn.Mat(np.ascontiguousarray(a[0])).clone())
                    ex.extract("out0")

            calls[f"ncnn_{kind}_{t2}t"] = ncnn_call
    except Exception as exc:  # optional format
        print(f"ncnn skipped: {exc}")

    # The product path: TPS field + one resampling from the frame + the face graph.
    product_path = ProductPath(stylizer, size)
    for t in threads_list:
        session = ort_session(paths["face"], t)
        calls[f"product_path_{t}t"] = lambda session=session: product_path(session)
        # With ONNX Runtime's busy-waiting workers: the face path alone (one face stream, nothing
        # else on the cores) no longer pays for waking them after the NumPy field and cut (about
        # 5 ms at 512 here). The whole-frame pipeline keeps them off: two spinning sessions (frame
        # pass and face pass) fight over the two cores (measured: 19 -> 30-37 ms a frame).
        spin_session = ort_session(paths["face"], t, spinning=True)
        calls[f"product_path_spinning_{t}t"] = lambda session=spin_session: product_path(session)
    calls["tps_field"] = product_path.field
    calls["cut_warped_crop"] = product_path.cut
    spline = product_path.spline()
    canvas = product_path.photo.copy()
    # Outside the product path: the whole frame also moves the background around the face. (The
    # canvas drifts a little further each call; the work per call is the same.)
    calls["move_surroundings"] = lambda: move_around(
        canvas, product_path.alignment, product_path.reach, lambda u: product_path.solver.displacement(spline, u)
    )
    if peers:
        from peers import PEERS

        for name, cls in PEERS.items():
            torch.manual_seed(0)
            model = cls().eval()
            key = name.split()[0].lower().replace("-", "")
            path = tmp / f"{key}_{size}.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (tx["frame"],), str(path), dynamo=False, opset_version=17,
                                  input_names=["image"], output_names=["out"])
            for t in threads_list:
                s = ort_session(path, t)
                calls[f"peer_{key}_ort_{t}t"] = lambda s=s: s.run(None, {"image": x["frame"]})
            if size <= 256:
                calls[f"peer_{key}_torch"] = lambda m=model: m(tx["frame"])
            calls[f"peer_{key}_params"] = sum(p.numel() for p in model.parameters())
    return calls


def time_calls(calls: dict[str, Any], repeats: int, passes: int, peer_repeats: int, threads: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {k: [] for k, v in calls.items() if callable(v)}
    for _ in range(passes):
        for key in times:
            fn = calls[key]
            n = max(1, (peer_repeats if key.startswith("peer_") else repeats) // passes)
            torch.set_num_threads(threads)
            with torch.no_grad():
                fn()  # warm-up (first run of a session plans its memory)
                for _ in range(n):
                    start = time.perf_counter()
                    fn()
                    times[key].append((time.perf_counter() - start) * 1000)
    out: dict[str, Any] = {k: summarize(v) for k, v in times.items()}
    out.update({k: v for k, v in calls.items() if not callable(v)})
    return out


# ------------------------------------------------------------------------------------ section 3 + 4
def pipeline_run(
    video: Path, runtime: str, threads: int, smoothing: bool, temporal: bool | None, model: str = "anime"
) -> dict[str, Any]:
    """One pass of the video pipeline with stage timing and the flicker meter (frames in memory)."""
    from run_outputs import face_region

    from geostyle.infer.stylize import Stylizer
    from geostyle.video import LiveSession, VideoReader, VideoWriter, run_loop
    from geostyle.video.stability import FlickerMeter

    stylizer = Stylizer(model, runtime=runtime, threads=threads)
    with VideoReader(video, keep_audio=False) as probe:
        first = next(iter(probe))
    with VideoReader(video) as reader:
        face = stylizer.detect(first.image)
        meter = FlickerMeter(region=face_region(face.box, first.image.shape))
        info = reader.info
        stylizer.render(first.image, [face.landmarks])  # exports the graphs before timing starts
        stylizer.timer.reset()
        stylizer.timer.enabled = True
        with tempfile.TemporaryDirectory() as tmp:
            writer = VideoWriter(Path(tmp) / "out.mp4", info.width, info.height, info.fps, reader.stream.time_base, reader.audio_stream)
            session = LiveSession(stylizer, smoothing=smoothing, temporal=temporal)

            def sink(out, frame):
                meter.update(frame.image, out)
                with stylizer.timer("encode"):
                    writer.write(out, frame.pts)
                    writer.write_audio(reader.pop_audio())

            stats = run_loop(reader, session, sink)
            writer.write_audio(reader.pop_audio())
            writer.close()
            session.close()
    stages = stylizer.timer.per_frame_ms()
    cpu = stylizer.timer.cpu_per_frame_ms()
    return {
        "cpu_stages_ms": cpu,
        "cpu_ms_per_frame": round(sum(cpu.values()), 1),
        "video": video.name,
        "size": f"{info.width}x{info.height}",
        "frames": stats.frames,
        "fps": round(stats.fps, 1),
        "ms_per_frame": round(1000 / stats.fps, 1) if stats.fps else None,
        "stages_ms": stages,
        "stability": meter.result(),
    }


def live_run(video: Path, threads: int, model: str = "anime") -> dict[str, Any]:
    from geostyle.infer.stylize import Stylizer
    from geostyle.video.live import LiveControls, live

    with tempfile.TemporaryDirectory() as tmp:
        controls = LiveControls([model], lambda name: Stylizer(name, runtime="onnx", threads=threads))
        controls.stylizer().render(np.zeros((512, 512, 3), np.uint8), [])  # graph export outside timing
        stats = live(controls, video=video, out=Path(tmp) / "live.mp4", headless=True)
    return {"video": video.name, "frames": stats.frames, "fps": round(stats.fps, 1)}


HUGE = """
import sys, time, cv2
from geostyle.cli.main import main
from geostyle.infer.timing import peak_rss_mb
start = time.perf_counter()
code = main(["stylize", sys.argv[1], "--model", sys.argv[3], "--out", sys.argv[2]])
print(code, round(time.perf_counter() - start, 1), int(peak_rss_mb()))
"""


def huge_photo(model: str = "anime") -> dict[str, Any]:
    """A 12000x9000 JPEG (the portrait enlarged) through ``geostyle stylize`` in a fresh process."""
    import cv2

    from geostyle.data.images import load_image
    from geostyle.infer.demo import EXAMPLE

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "huge.jpg"
        big = cv2.resize(load_image(EXAMPLE), (12000, 9000), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(photo), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        del big
        out = subprocess.run([sys.executable, "-c", HUGE, str(photo), tmp + "/out", model], capture_output=True, text=True)
    code, seconds, peak = out.stdout.split()[-3:]
    return {"size": "12000x9000", "exit": int(code), "seconds": float(seconds), "peak_rss_mb": int(peak)}


# ------------------------------------------------------------------------------------------ report
STAGE_ORDER = [
    "decode", "detect+landmarks", "track+smooth", "TPS field", "warp", "resize", "G frame", "G face",
    "drawings", "eyes and outline", "move surroundings", "blend", "temporal filter", "encode",
]

def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Pipeline speed\n\n`{result['command']}`; model `{result.get('model', 'anime')}`; load average before / after "
             f"{result['machine']['load_average_before']} / {result['machine']['load_average_after']} "
             f"({result['machine']['cpu_count']} cores, shared with other processes).\n"]
    for size, rows in result["generator"].items():
        lines.append(f"\n## Generator, {size}x{size} (median ms; min in brackets; fps)\n\n| what | ms | fps |\n|---|---|---|")
        for key, v in rows.items():
            if isinstance(v, dict):
                lines.append(f"| {key} | {v['median_ms']:.1f} ({v['min_ms']:.1f}) | {v['fps']:.0f} |")
        for key, v in result["ratios"].get(size, {}).items():
            lines.append(f"| ratio {key} | {v} | |")
    lines.append("\n## Pipeline (ONNX Runtime, 2 threads), ms per frame\n")
    lines.append("Wall ms per frame (CPU ms of all threads in brackets: less disturbed by other load).\n")
    runs = result["pipeline"]
    stages = [s for s in STAGE_ORDER if any(s in r["stages_ms"] for r in runs)]
    lines.append("| run | fps | CPU ms/frame | " + " | ".join(stages) + " | flicker (whole / face region) |")
    lines.append("|---" * (len(stages) + 4) + "|")
    for r in runs:
        cells = " | ".join(f"{r['stages_ms'].get(s, 0):.1f} ({r['cpu_stages_ms'].get(s, 0):.1f})" for s in stages)
        st = r["stability"]
        lines.append(
            f"| {r['video']} {r['label']} | {r['fps']} | {r['cpu_ms_per_frame']} | {cells} "
            f"| {st['flicker']:.2f} / {st.get('region_flicker', 0):.2f} |"
        )
    if result.get("live"):
        lines.append(f"\nLive loop (headless, overlay, frames written): {result['live']}")
    if result.get("huge_photo"):
        lines.append(f"\n12000x9000 photo through `geostyle stylize`: {result['huge_photo']}")
    lines.append(f"\nPeak RSS of the benchmark process: {result['peak_rss_mb']} MB")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[256, 512])
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--peer-repeats", type=int, default=6)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="few repeats, one video, no huge photo")
    parser.add_argument("--model", default="anime", help="bundled model name or release file (default: anime)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pipeline_speed.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.peer_repeats, args.passes = 6, 2, 2
    import onnxruntime

    from geostyle.infer.stylize import Stylizer

    load_before = os.getloadavg()
    t2 = max(args.threads)
    torch.set_num_threads(t2)
    stylizer = Stylizer(args.model)
    result: dict[str, Any] = {"model": args.model, "generator": {}, "ratios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(f"generator {size}...", flush=True)
            calls = build_calls(stylizer, size, args.threads, Path(tmp), peers=True)
            rows = time_calls(calls, args.repeats, args.passes, args.peer_repeats, t2)
            result["generator"][str(size)] = rows
            ratios = {}
            for key in ("animeganv2", "whitebox"):
                for t in args.threads:
                    peer = rows.get(f"peer_{key}_ort_{t}t")
                    if peer:
                        ratios[f"{key} / ours (frame graph, ORT {t}t)"] = round(peer["median_ms"] / rows[f"ort_frame_{t}t"]["median_ms"], 1)
                        ratios[f"{key} / ours (product path, ORT {t}t)"] = round(peer["median_ms"] / rows[f"product_path_{t}t"]["median_ms"], 1)
                        ratios[f"{key} / ours (product path, spinning ORT {t}t)"] = round(peer["median_ms"] / rows[f"product_path_spinning_{t}t"]["median_ms"], 1)
            result["ratios"][str(size)] = ratios
            for key, v in rows.items():
                if isinstance(v, dict):
                    print(f"  {key:32s} {v['median_ms']:8.2f} ms (min {v['min_ms']:7.2f})  {v['fps']:7.1f} fps")
            for key, v in ratios.items():
                print(f"  ratio {key}: {v}")
    videos = sorted(VIDEOS.glob("*.mp4"))
    if args.quick:
        videos = [v for v in videos if v.stem == "d12"] or videos[:1]
    result["pipeline"] = []
    for video in videos:
        configs = [("smoothing on", True, None), ("landmarks only", True, False), ("smoothing off", False, False)]
        for label, smoothing, temporal in configs:
            print(f"pipeline {video.name} ({label})...", flush=True)
            run = pipeline_run(video, "onnx", t2, smoothing, temporal, args.model) | {"label": label}
            result["pipeline"].append(run)
            print(f"  {run['fps']} fps; stages {run['stages_ms']}; stability {run['stability']}")
    talking = next((v for v in videos if v.stem == "d12"), videos[0])
    result["live"] = live_run(talking, t2, args.model)
    print(f"live loop: {result['live']}")
    if not args.quick:
        print("12000x9000 photo...", flush=True)
        result["huge_photo"] = huge_photo(args.model)
        print(f"  {result['huge_photo']}")
    result["peak_rss_mb"] = peak_rss_mb()
    machine = machine_info(t2)
    machine["load_average_before"] = [round(v, 2) for v in load_before]
    machine["load_average_after"] = machine.pop("load_average")
    result = {
        "benchmark": "pipeline_speed",
        "command": "python benchmarks/pipeline_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine,
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result)
    args.out.with_suffix(".md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
