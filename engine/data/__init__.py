"""Pretraining data: corpus reading, on-disk token shards, NSP instances, dynamic masking, batches.

- `corpus`    text files -> documents (lists of sentences); rule-based sentence splitter
- `shards`    `prepare_corpus` (the `bert-engine prepare` backend) and `TokenizedCorpus` (memmap reader)
- `chunk_cache` `prepare`'s encoder: each distinct chunk of the text through the Rust tokenizer once
- `chunk_keys`, `key_table`  the chunks of a batch, their keys and the cache's table, in numpy
- `instances` Google-BERT style sentence-pair (NSP) instances, re-sampled every epoch
- `masking`   dynamic MLM masking at batch time (80/10/10, optional whole-word)
- `batches`   `collate` and the resumable, rank-sliced `PretrainingBatches` stream (torch tensors)
"""
