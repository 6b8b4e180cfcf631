"""Pretraining data: corpus reading, on-disk token shards, NSP instances, dynamic masking, batches.

- `corpus`    text files -> documents (lists of sentences); rule-based sentence splitter
- `shards`    `prepare_corpus` (the `bert-engine prepare` backend) and `TokenizedCorpus` (memmap reader)
- `instances` Google-BERT style sentence-pair (NSP) instances, re-sampled every epoch
- `masking`   dynamic MLM masking at batch time (80/10/10, optional whole-word)
- `batches`   `collate` and the resumable, rank-sliced `PretrainingBatches` stream (torch tensors)

Names are imported lazily so that `prepare` (no torch needed) starts fast.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "open_text": "corpus", "iter_documents": "corpus", "split_sentences": "corpus", "expand_paths": "corpus",
    "DataError": "corpus", "prepare_corpus": "shards", "PrepareReport": "shards", "TokenizedCorpus": "shards",
    "Instance": "instances", "epoch_instances": "instances", "epoch_plan": "instances", "InstancePlan": "instances",
    "mask_batch": "masking",
    "collate": "batches", "PretrainingBatches": "batches",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
