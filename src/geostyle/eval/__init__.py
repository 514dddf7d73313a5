"""Evaluation: how good a style model is, beside baselines measured in the same run on the same photos.

One module per metric family: :mod:`fidelity` (KID / FID on FID-Inception features), :mod:`anime`
(animeface detection rate), :mod:`identity` (dlib embeddings: distance, rank-1), :mod:`geometry`
(landmark NME against the target geometry), :mod:`paired` (SSIM, ST-LPIPS, feature distance to a
ground truth), :mod:`speed` (params, FLOPs, latency), :mod:`skin` (the cheeks' lightness), :mod:`marks` (thin light marks the photo lacks); the
classical filters in :mod:`baselines`, photo <-> truth matching in :mod:`pairing`, the run in :mod:`run`, the report in :mod:`report`.
See docs/evaluation.md.
"""
