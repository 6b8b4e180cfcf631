"""Batches for pretraining: `collate` (numpy) and `PretrainingBatches`, a resumable, rank-sliced stream.

Order of data: epoch e is `epoch_plan(corpus, max_seq_length, seed, e)` (shuffled instances). It is
cut into global batches of batch_size * world_size instances (an incomplete last one is dropped);
rank r uses rows [r * batch_size, (r + 1) * batch_size) of each global batch. Masking is seeded
per sequence from (seed, epoch, position of the sequence in the epoch), so a sequence gets the same
mask whichever rank draws it: one process with batch 2b sees exactly the union of two ranks'
batches of b. `state()` is {"epoch", "index"} (the next global batch), and `load_state` resumes
the exact same stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.data.corpus import DataError
from engine.data.instances import Instance, InstancePlan, epoch_plan
from engine.data.masking import mask_batch
from engine.data.shards import TokenizedCorpus

__all__ = ["collate", "PretrainingBatches"]


def collate(instances: Sequence[Instance], max_seq_length: int, pad_id: int,
            pad_to_max: bool = False) -> dict[str, np.ndarray]:
    """Pad instances to the longest one (or to max_seq_length with pad_to_max) on the right.

    Returns input_ids, token_type_ids, attention_mask (int64 [B,T]), special_mask (bool [B,T]:
    the template's [CLS]/[SEP]) and next_sentence_label (int64 [B]: 0 IsNext, 1 NotNext).
    """
    if not instances:
        raise ValueError("collate needs at least one instance")
    lengths = [len(x.tokens) for x in instances]
    if max(lengths) > max_seq_length:
        raise ValueError(f"an instance has {max(lengths)} tokens, more than max_seq_length={max_seq_length}")
    B, T = len(instances), (max_seq_length if pad_to_max else max(lengths))
    input_ids = np.full((B, T), pad_id, np.int64)
    token_type_ids = np.zeros((B, T), np.int64)
    attention_mask = np.zeros((B, T), np.int64)
    special_mask = np.zeros((B, T), bool)
    for row, (x, n) in enumerate(zip(instances, lengths)):
        input_ids[row, :n] = x.tokens
        token_type_ids[row, :n] = x.segment_ids
        attention_mask[row, :n] = 1
        special_mask[row, [0, n - 1]] = True
        if x.segment_ids[n - 1]:  # a pair: segment 1 starts right after [CLS] A [SEP]
            special_mask[row, int(np.argmax(x.segment_ids)) - 1] = True
    labels = np.array([int(x.is_random_next) for x in instances], np.int64)
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask,
            "special_mask": special_mask, "next_sentence_label": labels}


class PretrainingBatches:
    """Endless, deterministic MLM + NSP batches (torch int64 tensors) for one rank.

    vocab_size is the model's (it may be padded past the tokenizer's); random replacement tokens
    are drawn from the tokenizer's own vocabulary, minus its special tokens. pad_to_max (default)
    gives every batch the shape [batch_size, max_seq_length] (static shapes for compiled models);
    False pads to the longest sequence of the batch.
    """

    def __init__(self, corpus: TokenizedCorpus, max_seq_length: int, batch_size: int, seed: int,
                 mask_id: int, vocab_size: int, rank: int = 0, world_size: int = 1, max_predictions: int = 20,
                 whole_word: bool = False, short_seq_prob: float = 0.1, mlm_probability: float = 0.15,
                 pad_to_max: bool = True, near_negatives: float = 0.0):
        if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < world_size, got batch_size={batch_size}, "
                             f"rank={rank}, world_size={world_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if vocab_size < corpus.vocab_size:
            raise DataError(f"{corpus.path}: data uses a vocabulary of {corpus.vocab_size} tokens, "
                            f"more than the model's vocab_size={vocab_size}")
        self.corpus = corpus
        self.max_seq_length, self.batch_size, self.seed = max_seq_length, batch_size, seed
        self.mask_id, self.vocab_size = mask_id, vocab_size
        self.rank, self.world_size = rank, world_size
        self.max_predictions, self.mlm_probability = max_predictions, mlm_probability
        self.whole_word, self.short_seq_prob, self.pad_to_max = whole_word, short_seq_prob, pad_to_max
        self.near_negatives = near_negatives
        self.global_batch = batch_size * world_size
        self._continuation = None
        if whole_word:
            vocab = corpus.tokenizer().get_vocab()
            lut = np.zeros(max(vocab_size, corpus.vocab_size), bool)
            for tok, i in vocab.items():
                lut[i] = tok.startswith("##")
            self._continuation = lut
        self._epoch, self._index = 0, 0
        self._plan: InstancePlan | None = None
        self._plan_epoch = -1
        self._load_plan(0)

    # ----- position -----

    def _load_plan(self, epoch: int) -> InstancePlan:
        if self._plan_epoch != epoch:
            plan = epoch_plan(self.corpus, self.max_seq_length, self.seed, epoch, self.short_seq_prob,
                              self.near_negatives)
            if len(plan) < self.global_batch:
                raise DataError(f"{self.corpus.path}: epoch {epoch} has {len(plan)} instances, fewer than one "
                                f"global batch of {self.global_batch} (batch_size x world_size)")
            self._plan, self._plan_epoch = plan, epoch
        return self._plan

    @property
    def batches_per_epoch(self) -> int:
        """Global batches in the current epoch (the number changes slightly from epoch to epoch)."""
        return len(self._load_plan(self._epoch)) // self.global_batch

    def state(self) -> dict:
        return {"epoch": self._epoch, "index": self._index}

    def load_state(self, state: dict) -> None:
        try:
            epoch, index = int(state["epoch"]), int(state["index"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"not a data position: {state!r} (want {{'epoch': int, 'index': int}})") from None
        if epoch < 0 or index < 0:
            raise ValueError(f"data position must be non-negative, got {state!r}")
        self._epoch, self._index = epoch, index
        if index > self.batches_per_epoch:
            raise ValueError(f"data position {state!r} is past the end of epoch {epoch} "
                             f"({self.batches_per_epoch} batches)")

    # ----- batches -----

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        plan = self._load_plan(self._epoch)
        if (self._index + 1) * self.global_batch > len(plan):  # drop the incomplete last global batch
            self._epoch, self._index = self._epoch + 1, 0
            plan = self._load_plan(self._epoch)
        first = self._index * self.global_batch + self.rank * self.batch_size
        positions = range(first, first + self.batch_size)  # positions in the epoch's shuffled order
        c = self.corpus
        instances = [plan.instance(i, c.tokens, c.cls_id, c.sep_id) for i in positions]
        batch = collate(instances, self.max_seq_length, c.pad_id, pad_to_max=self.pad_to_max)
        rngs = [np.random.default_rng([self.seed, self._epoch, i]) for i in positions]
        word_starts = None
        if self._continuation is not None:
            word_starts = ~self._continuation[batch["input_ids"]]
        masked, labels = mask_batch(
            batch["input_ids"], batch["attention_mask"], batch["special_mask"], rngs, self.mask_id,
            c.vocab_size, self.max_predictions, self.mlm_probability, word_starts=word_starts,
            special_ids=c.special_ids)
        self._index += 1
        return {"input_ids": torch.from_numpy(masked),
                "token_type_ids": torch.from_numpy(batch["token_type_ids"]),
                "attention_mask": torch.from_numpy(batch["attention_mask"]),
                "labels": torch.from_numpy(labels),
                "next_sentence_label": torch.from_numpy(batch["next_sentence_label"])}
