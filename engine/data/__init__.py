"""Pretraining data: corpus reading, on-disk token shards, NSP instances, dynamic masking, batches.

- `corpus`    text files -> documents (lists of sentences); rule-based sentence splitter
- `shards`    `prepare_corpus` (the `bert-engine prepare` backend) and `TokenizedCorpus` (memmap reader)
- `instances` Google-BERT style sentence-pair (NSP) instances, re-sampled every epoch
- `masking`   dynamic MLM masking at batch time (80/10/10, optional whole-word)
- `batches`   `collate` and the resumable, rank-sliced `PretrainingBatches` stream (torch tensors)
"""
