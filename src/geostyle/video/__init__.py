"""geostyle.video: video files (decode, encode, audio passthrough) and the frame loop shared by files,
the webcam and the browser.

Public API: :func:`stylize_video`, :class:`VideoResult`, :class:`LiveSession` (alias
:class:`FrameStylizer`), :func:`run_loop`, :func:`probe_video`, :class:`VideoReader`,
:class:`VideoWriter`.
"""

from geostyle.video.io import VideoInfo, VideoReader, VideoWriter, is_video, probe_video
from geostyle.video.loop import FrameStylizer, LiveSession, LoopStats, VideoResult, run_loop, stylize_video

__all__ = [
    "FrameStylizer",
    "LiveSession",
    "LoopStats",
    "VideoInfo",
    "VideoReader",
    "VideoResult",
    "VideoWriter",
    "is_video",
    "probe_video",
    "run_loop",
    "stylize_video",
]
