"""A registry of network architectures, so checkpoints can rebuild a model from its name and config.

Each registered entry is a callable (a factory function or an ``nn.Module`` class) taking keyword
arguments only. Every network in this package stores the complete keyword arguments it was built
with in ``model.config`` (plain JSON types), and :func:`create_model` records the registry name in
``model.arch``; :func:`model_spec` returns both, and ``create_model(**spec)`` rebuilds an identical
architecture without any command-line flags::

    g = create_model("geo_mobile", feature_warp=False)
    spec = model_spec(g)            # {"arch": "geo_mobile", "config": {...every kwarg...}}
    g2 = create_model(spec["arch"], **spec["config"])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

__all__ = ["register_model", "create_model", "list_models", "model_spec", "is_model"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_KIND: dict[str, str] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(name: str | None = None, kind: str = "generator") -> Callable[[F], F]:
    """Decorator: register a model factory (or class) under ``name`` (default: its ``__name__``).

    ``kind`` groups entries (``"generator"``, ``"discriminator"``) for :func:`list_models`.
    Registering a second, different object under an existing name is an error.
    """

    def decorator(factory: F) -> F:
        key = name or factory.__name__
        if key in _REGISTRY and _REGISTRY[key] is not factory:
            raise ValueError(f"model {key!r} is already registered")
        _REGISTRY[key] = factory
        _KIND[key] = kind
        return factory

    return decorator


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword overrides; sets ``model.arch = name``."""
    _ensure_builtin_models()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    model = _REGISTRY[name](**kwargs)
    setattr(model, "arch", name)  # noqa: B010 (nn.Module typing forbids plain attribute assignment)
    return model


def list_models(kind: str | None = None) -> list[str]:
    """Sorted registered names, optionally only those of one ``kind``."""
    _ensure_builtin_models()
    return sorted(k for k in _REGISTRY if kind is None or _KIND[k] == kind)


def is_model(name: str) -> bool:
    _ensure_builtin_models()
    return name in _REGISTRY


def model_spec(model: nn.Module) -> dict[str, Any]:
    """``{"arch": name, "config": kwargs}`` of a model made by :func:`create_model`, for checkpoints."""
    arch = getattr(model, "arch", None)
    config = getattr(model, "config", None)
    if arch is None or config is None:
        raise ValueError("model was not built by create_model() or does not record its config")
    return {"arch": arch, "config": dict(config)}


def _ensure_builtin_models() -> None:
    # Importing the modules runs their @register_model decorators.
    from geostyle.nets import discriminator, generator  # noqa: F401
