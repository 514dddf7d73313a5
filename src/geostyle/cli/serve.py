"""``geostyle serve [--host 127.0.0.1] [--port 8765] [--data DIR] [--photos NAME=DIR] [--train-set KEY=VALUE]
[--runtime onnx|torch|openvino] [--threads N]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from geostyle.errors import GeostyleError


def _named_dir(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    if not all(ch.isalnum() or ch in "-_." for ch in name):
        raise argparse.ArgumentTypeError(f"photo set name may use letters, digits, '-', '_', '.': {name!r}")
    return name, Path(folder).expanduser()


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument(
        "--data",
        type=Path,
        default=Path("~/.geostyle"),
        help="folder for uploads, style sets and jobs (default ~/.geostyle)",
    )
    p.add_argument(
        "--photos",
        type=_named_dir,
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a server-side folder of face photos offered for training (repeatable)",
    )
    p.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override added to every training job, e.g. train.threads=1 (repeatable)",
    )
    p.add_argument(
        "--eval-photos",
        type=int,
        default=24,
        help="photos a job's evaluation stylizes and measures (default 24)",
    )
    p.add_argument(
        "--runtime",
        default="onnx",
        choices=["torch", "onnx", "openvino"],
        help="generator runtime of the pages (default onnx: ONNX Runtime; openvino needs geostyle[openvino])",
    )
    p.add_argument("--threads", type=int, default=0, help="generator runtime threads (0 = the runtime's default)")
    p.add_argument("--max-upload-mb", type=int, default=25, help="largest accepted image upload (default 25)")
    p.add_argument(
        "--no-resume", action="store_true", help="do not restart jobs interrupted by a server stop"
    )


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from geostyle.serve.app import LOOPBACK_HOSTS, ServeConfig, create_app
    from geostyle.serve.uploads import Limits

    photo_sets = dict(args.photos)
    for name, folder in photo_sets.items():
        if not folder.is_dir():
            raise GeostyleError(f"--photos {name}={folder}: no such folder")
    if not 0 <= args.port <= 65535:
        raise GeostyleError(f"--port must be 0-65535, not {args.port}")
    if args.eval_photos < 1:
        raise GeostyleError("--eval-photos must be at least 1")
    if args.threads < 0:
        raise GeostyleError("--threads must be 0 (the runtime's default) or more")
    if args.max_upload_mb < 1:
        raise GeostyleError("--max-upload-mb must be at least 1")
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"geostyle serve: warning: listening on {args.host}: anyone who can reach this address can "
            "upload files and start training jobs (there are no user accounts)"
        )
    config = ServeConfig(
        data_dir=args.data.expanduser(),
        host=args.host,
        photo_sets=photo_sets,
        train_overrides=list(args.train_set),
        limits=Limits(image_bytes=args.max_upload_mb << 20),
        recover_jobs=not args.no_resume,
        eval_photos=args.eval_photos,
        runtime=args.runtime,
        threads=args.threads,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    app = create_app(config)
    print(f"geostyle serve: http://{args.host}:{args.port}/  (data: {config.data_dir})", flush=True)
    # Idle keep-alive connections are kept longer than browsers keep them (uvicorn's default 5 s lets
    # a request sent on a connection the server is just closing fail with a reset).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75)
    return 0
