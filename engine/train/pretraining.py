"""The pretraining task: MLM + NSP on a prepared corpus, for the shared training loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoint import load_checkpoint
from engine.config import BertConfig
from engine.data.batches import PretrainingBatches
from engine.data.shards import TokenizedCorpus
from engine.model import IGNORE_INDEX, BertForPreTraining
from engine.specs import PretrainSpec
from engine.train.mlm_loss import mlm_loss_and_hits

# A fixed pair whose attention entropy is recorded at every checkpoint ("watch it learn").
PROBE_PAIR = ("The old man went to the market to buy bread.",
              "He came home with a warm loaf and some cheese.")
EVAL_SEED = 1234


class PretrainingTask:
    kind = "pretrain"

    def __init__(self, spec: PretrainSpec):
        self.spec = spec
        self.corpus = TokenizedCorpus(spec.data, "train")
        self.heldout: TokenizedCorpus | None = None
        self.heldout_note: str | None = None  # why there is no held-out evaluation
        if (Path(spec.data) / "heldout").is_dir():
            heldout = TokenizedCorpus(spec.data, "heldout")
            if heldout.num_documents >= 2:
                self.heldout = heldout
            else:  # NSP pairs need a second document; a tiny corpus may hold out only one
                self.heldout_note = (f"held-out split has {heldout.num_documents} document(s), "
                                     "fewer than the 2 NSP needs: no held-out evaluation")
        self.tokenizer = self.corpus.tokenizer()
        self.loss_weights = {"nsp": spec.nsp_loss_weight}

    def model_config(self) -> BertConfig:
        return self.spec.model_config(self.tokenizer.vocab_size)

    def build_model(self) -> nn.Module:
        if self.spec.init_model is None:
            return BertForPreTraining(self.model_config())
        loaded = load_checkpoint(self.spec.init_model, architecture="BertForPreTraining")
        if loaded.config.vocab_size < self.tokenizer.vocab_size:
            raise ValueError(f"{self.spec.init_model}: its vocabulary ({loaded.config.vocab_size}) "
                             f"is smaller than the data's tokenizer ({self.tokenizer.vocab_size});"
                             " prepare the data with the model's own tokenizer")
        if loaded.config.max_position_embeddings < self.spec.max_seq_length:
            raise ValueError(f"{self.spec.init_model}: {loaded.config.max_position_embeddings} "
                             f"positions, fewer than --seq-len {self.spec.max_seq_length}")
        if self.spec.dropout is not None:
            loaded.config.hidden_dropout_prob = self.spec.dropout
            loaded.config.attention_probs_dropout_prob = self.spec.dropout
            for module in loaded.model.modules():
                if isinstance(module, nn.Dropout):
                    module.p = self.spec.dropout
        return loaded.model.train()

    def _batches(self, corpus: TokenizedCorpus, seed: int, rank: int,
                 world_size: int) -> PretrainingBatches:
        s = self.spec
        return PretrainingBatches(corpus, s.max_seq_length, s.batch_size, seed,
                                  mask_id=self.tokenizer.mask_id,
                                  vocab_size=self.tokenizer.vocab_size, rank=rank,
                                  world_size=world_size, max_predictions=s.max_predictions,
                                  whole_word=s.whole_word, short_seq_prob=s.short_seq_prob,
                                  near_negatives=s.near_negatives)

    def batches(self, rank: int, world_size: int) -> PretrainingBatches:
        return self._batches(self.corpus, self.spec.seed, rank, world_size)

    def denominators(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"mlm": float((batch["labels"] != IGNORE_INDEX).sum()),
                "nsp": float(batch["input_ids"].shape[0])}

    def losses(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        labels = batch["labels"]
        masked = labels != IGNORE_INDEX  # [B, T]
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                    predict_at=masked)
        targets = labels[masked]  # [M]
        # [M, V], decoder run at masks only; loss in float32 without a float32 copy
        mlm_sum, mlm_hits = mlm_loss_and_hits(out.prediction_logits, targets)
        nsp_logits = out.seq_relationship_logits.float()  # [B, 2]
        nsp_labels = batch["next_sentence_label"]
        sums = {"mlm": mlm_sum, "nsp": F.cross_entropy(nsp_logits, nsp_labels, reduction="sum")}
        correct = {"mlm": mlm_hits, "nsp": (nsp_logits.argmax(-1) == nsp_labels).sum()}
        return sums, correct

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self.heldout is None:
            return {}
        return evaluate_pretraining(model, self.heldout, self.tokenizer.mask_id,
                                    self.spec.max_seq_length, self.spec.batch_size,
                                    self.spec.eval_batches, device)

    @torch.no_grad()
    def checkpoint_extras(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        return {"attention_entropy": probe_attention_entropy(model, self.tokenizer, device),
                "probe": list(PROBE_PAIR)}


@torch.no_grad()
def evaluate_pretraining(model: nn.Module, corpus: TokenizedCorpus, mask_id: int,
                         max_seq_length: int, batch_size: int, num_batches: int,
                         device: torch.device, seed: int = EVAL_SEED) -> dict[str, float]:
    """Held-out masked-token top-1 accuracy (every selected token replaced by [MASK], fixed
    seed) and NSP accuracy (negatives from another document of the same corpus), also per
    class: a model that judges style, not continuity, says IsNext to most NotNext pairs."""
    batches = PretrainingBatches(corpus, max_seq_length, batch_size, seed, mask_id=mask_id,
                                 vocab_size=corpus.vocab_size)
    # mlm loss sum, mlm hits, masked tokens, IsNext hits, IsNext pairs, NotNext hits, NotNext pairs
    totals = np.zeros(7)
    was_training = model.training
    model.eval()
    for _ in range(num_batches):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        masked = batch["labels"] != IGNORE_INDEX
        ids = batch["input_ids"].masked_fill(masked, mask_id)  # all [MASK], no 10/10 noise
        out = model(ids, batch["attention_mask"], batch["token_type_ids"], predict_at=masked)
        logits, targets = out.prediction_logits.float(), batch["labels"][masked]
        nsp_labels = batch["next_sentence_label"]  # [B]; 0 IsNext, 1 NotNext
        nsp_hit = out.seq_relationship_logits.argmax(-1) == nsp_labels  # [B]
        is_next = nsp_labels == 0
        totals += [float(F.cross_entropy(logits, targets, reduction="sum")),
                   float((logits.argmax(-1) == targets).sum()), targets.numel(),
                   float(nsp_hit[is_next].sum()), float(is_next.sum()),
                   float(nsp_hit[~is_next].sum()), float((~is_next).sum())]
    model.train(was_training)
    mlm_loss, mlm_hits, masked, next_hits, next_pairs, not_next_hits, not_next_pairs = totals
    return {"mlm_loss": mlm_loss / max(masked, 1), "mlm_acc": mlm_hits / max(masked, 1),
            "nsp_acc": (next_hits + not_next_hits) / max(next_pairs + not_next_pairs, 1),
            "masked_tokens": int(masked), "pairs": int(next_pairs + not_next_pairs),
            "nsp_isnext_acc": next_hits / max(next_pairs, 1),
            "nsp_notnext_acc": not_next_hits / max(not_next_pairs, 1)}


def probe_attention_entropy(model: nn.Module, tokenizer, device: torch.device) -> list[list[float]]:
    """Mean entropy (nats) of each head's attention rows on the probe pair: [layers][heads]."""
    enc = tokenizer.encode(*PROBE_PAIR)
    ids = torch.tensor([enc.ids], device=device)
    types = torch.tensor([enc.token_type_ids], device=device)
    out = model.bert(ids, token_type_ids=types, output_attentions=True)
    probs = torch.stack(out.attentions)[:, 0].float()  # [L, N, T, T]
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean(-1)  # [L, N]
    return [[round(v, 5) for v in row] for row in entropy.tolist()]
