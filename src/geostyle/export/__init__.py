"""geostyle.export: deployable graphs of a release model — ONNX (checked by the ONNX checker, run in
ONNX Runtime) and ncnn, a mobile inference format (converted with pnnx, run with ncnn's own Python
binding) — each checked for parity against PyTorch on a real face and carrying its metadata.

Public API: :func:`export_model`, :class:`ExportReport`, :func:`read_onnx_metadata`, :data:`FORMATS`.
"""

from geostyle.export.exporter import FORMATS, GRAPHS, ExportReport, export_model, read_onnx_metadata

__all__ = ["FORMATS", "GRAPHS", "ExportReport", "export_model", "read_onnx_metadata"]
