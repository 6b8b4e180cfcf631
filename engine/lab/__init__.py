"""Analyses beyond raw attention: which input tokens shaped each representation, and which
made the model predict what it did.

Maps, token to token, layer by layer (``engine.lab.maps.explain_maps``, one traced pass):
attention rollout (Abnar & Zuidema 2020), norm-based attention (Kobayashi et al. 2020) and ALTI
(Ferrando et al. 2022). Per-token salience for one target
(``engine.lab.salience.explain_salience``): gradient norm, gradient x input and integrated
gradients (Sundararajan et al. 2017). Results are the torch-free
``engine.results.AttributionMaps`` and ``engine.results.Salience``.
"""
