"""Networks: the geometry-aware generators, the patch discriminators and the perceptual backbone.

Build networks by registry name so checkpoints can rebuild them::

    from geostyle.nets import create_model, list_models
    g = create_model("geo_mobile")              # default generator
    d = create_model("patch_multiscale")        # global discriminator
"""

from geostyle.nets.registry import create_model, is_model, list_models, model_spec, register_model

__all__ = ["create_model", "is_model", "list_models", "model_spec", "register_model"]
