"""The local web app (``geostyle serve``): stylize photos, videos and the webcam, fix style landmarks by
hand, train a custom style from uploads.

Layers, top to bottom: ``app`` (HTTP routes, no logic of its own) -> ``stylizing`` (loaded models,
image / frame / video jobs), ``annotate`` (style sets, landmark files, geometry preview), ``jobs``
(training jobs in the background) -> ``storage`` and ``uploads`` (the data folder and what may enter
it). Everything heavy is library code of the other packages, called exactly as the CLI calls it.
"""
