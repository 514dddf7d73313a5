"""The drawings and filters a preset ships its releases with (``release:`` in the config).

The bundled anime models are a preset's weights plus settings that carry no weights: the photo's
ink, the dark colour and depth (the generator's own settings), and the anime eyes, face outline,
face shape and exposure (the stylizer's, read from the release's ``extra``). They were first set on the
released files by hand after training (``update_release_arch_kwargs``, ``update_release_extra``), so a
model a user trained with the same preset reached the product without them. A preset now names them
and every release the run saves carries them; the networks train as before.

Checked when the trainer starts, so a misspelt setting fails at step 0 and not at the first
release, an hour in.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from geostyle.errors import ConfigError, GeostyleError
from geostyle.train.config import ReleaseConfig

# The stylizer's drawings, each an opacity 0-1 (geostyle.infer.stylize.Stylizer: eyes, outline, skin),
# and what it does to a frame's tone before the generator, a share 0-1 (exposure).
DRAWINGS = ("eyes", "outline", "skin")
TONE = ("exposure",)
EXTRA_KEYS = (*DRAWINGS, *TONE, "part_gains")


def check_release_settings(
    release: ReleaseConfig, arch: str, generator: torch.nn.Module
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arch_kwargs, extra)`` to write into each release of ``generator`` (registry name ``arch``):
    its own settings with ``release.generator`` over them, and ``release.extra``. Raises
    :class:`ConfigError` naming the setting that the generator does not take or that is out of range."""
    from geostyle.nets.registry import create_model
    from geostyle.warp.geometry import check_part_gains

    own = dict(getattr(generator, "config", {}))
    arch_kwargs = {**own, **release.generator}
    if release.generator:
        try:
            rebuilt = create_model(arch, **arch_kwargs)
            rebuilt.load_state_dict(generator.state_dict(), strict=True)
        except (GeostyleError, RuntimeError, TypeError, ValueError) as exc:
            raise ConfigError(f"release.generator {release.generator}: this generator does not take it ({exc})") from exc
    extra = dict(release.extra)
    for key, value in extra.items():
        if key not in EXTRA_KEYS:
            raise ConfigError(f"release.extra.{key}: unknown setting; known: {', '.join(EXTRA_KEYS)}")
        if key == "part_gains":
            if not isinstance(value, dict):
                raise ConfigError(f"release.extra.part_gains: expected a mapping of part: gain, got {value!r}")
            try:
                check_part_gains(value)
            except GeostyleError as exc:
                raise ConfigError(f"release.extra.part_gains: {exc}") from exc
            extra[key] = {str(k): float(v) for k, v in value.items()}
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"release.extra.{key}: expected an opacity between 0 and 1, got {value!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"release.extra.{key}: expected an opacity between 0 and 1, got {value}")
        extra[key] = float(value)
    return arch_kwargs, extra
