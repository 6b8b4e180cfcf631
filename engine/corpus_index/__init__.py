"""Corpus index: every non-special token's hidden state (and per-head attention contexts) at
chosen layers, L2-normalised, searchable by cosine. ``spec`` (the job's settings), ``store``
(the on-disk format), ``build`` (the background job), ``search`` (exact and compressed search).
"""
