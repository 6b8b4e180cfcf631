"""Search a finished corpus index: the corpus tokens whose vector at a layer is nearest (by
cosine) to one token of an input, exactly or through the compressed index, with their
sentences and a summary of the words they are."""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path

import numpy as np
import torch

from engine.corpus_index import faiss_index
from engine.corpus_index.store import (SHARDS_NAME, Shard, fingerprint_problem,
                                       model_fingerprint, read_manifest)
from engine.corpus_index.vectors import head_mask_query, layer_vectors
from engine.results_corpus import CorpusIndexError, CorpusMatch, CorpusSearch, word_summary

BY = {"embedding": "hidden", "context": "context"}
MODES = ("auto", "exact", "compressed")
EXACT_UP_TO = 500_000  # auto: exact search up to this many vectors, compressed above


class CorpusIndex:
    """A finished index, opened once: shards read lazily, FAISS indexes built on first use."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.shards = [Shard(self.path / SHARDS_NAME / name) for name in self.manifest["shards"]]
        self._token_starts = np.cumsum([0] + [s.tokens for s in self.shards])
        self._vectors: dict[str, faiss_index.ShardedVectors] = {}
        self._exact: dict[str, object] = {}
        self._compressed: dict[str, object] = {}
        self._checked: weakref.WeakSet = weakref.WeakSet()  # predictors found to be its model

    @property
    def tokens(self) -> int:
        return int(self.manifest["tokens"])

    @property
    def layers(self) -> list[int]:
        return list(self.manifest["layers"])

    @property
    def model_path(self) -> str:
        return self.manifest["model"]["path"]

    def check_model(self, predictor) -> None:
        """CorpusIndexError with the reason when ``predictor`` is not the index's model (a
        predictor that passed is not hashed again)."""
        if predictor in self._checked:
            return
        cfg, tok = predictor.config, predictor.tokenizer
        given = model_fingerprint(predictor.checkpoint.path, predictor.name, tok.get_vocab(),
                                  tok.lowercase, cfg.num_hidden_layers, cfg.num_attention_heads,
                                  cfg.hidden_size)
        problem = fingerprint_problem(self.path, self.manifest["model"], given)
        if problem:
            raise CorpusIndexError(problem)
        self._checked.add(predictor)

    def stem(self, layer: int, by: str) -> str:
        if by not in BY:
            raise CorpusIndexError(f"--by must be embedding or context, not {by!r}")
        if layer not in self.layers:
            raise CorpusIndexError(f"{self.path} indexes layers {','.join(map(str, self.layers))}"
                                   f", not layer {layer}")
        if by == "context" and not self.manifest["contexts"]:
            raise CorpusIndexError(f"{self.path} holds no attention contexts: index the corpus "
                                   "with --contexts to search by context")
        return f"{BY[by]}-{layer}"

    def vectors(self, stem: str) -> faiss_index.ShardedVectors:
        if stem not in self._vectors:
            self._vectors[stem] = faiss_index.ShardedVectors([s.vectors(stem) for s in self.shards])
        return self._vectors[stem]

    def mode_for(self, stem: str, mode: str) -> str:
        if mode not in MODES:
            raise CorpusIndexError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        has_compressed = stem in self.manifest["compressed"]
        if mode == "compressed" and not has_compressed:
            raise CorpusIndexError(f"{self.path} has no compressed index for {stem} (too few "
                                   f"vectors: fewer than it needs to train one)")
        if mode == "auto":
            return "compressed" if has_compressed and self.tokens > EXACT_UP_TO else "exact"
        return mode

    def nearest(self, query: np.ndarray, stem: str, k: int,
                mode: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
        """query [H] (unit, or head-masked) -> (cosines [k], token ids [k], mode used)."""
        mode = self.mode_for(stem, mode)
        vectors = self.vectors(stem)
        if mode == "exact":
            if stem not in self._exact:
                self._exact[stem] = faiss_index.exact_index(vectors)
            scores, ids = faiss_index.search_exact(self._exact[stem], query, k)
        else:
            if stem not in self._compressed:
                self._compressed[stem] = faiss_index.load_compressed(
                    self.path / self.manifest["compressed"][stem]["file"])
            scores, ids = faiss_index.search_compressed(self._compressed[stem], vectors, query, k)
        return scores, ids, mode

    def match(self, token: int, cosine: float, tokenizer=None) -> CorpusMatch:
        """The indexed token ``token`` (a row number) as a match with its sentence."""
        s = int(np.searchsorted(self._token_starts, token, side="right") - 1)
        shard, row = self.shards[s], token - int(self._token_starts[s])
        c = shard.columns
        sentence_index = int(c["sentence"][row])
        text = shard.sentence_text(sentence_index)
        start, end = int(c["word_start"][row]), int(c["word_end"][row])
        token_id = int(c["token_id"][row])
        piece = tokenizer.id_to_token(token_id) if tokenizer is not None else str(token_id)
        return CorpusMatch(cosine=float(cosine), sentence=text, position=int(c["position"][row]),
                           word=text[start:end], token=piece, sentence_index=sentence_index,
                           word_start=start, word_end=end)


def search_text(predictor, index: CorpusIndex, text_a: str, text_b: str | None, token: int,
                layer: int, by: str = "embedding", heads: list[int] | None = None,
                top_k: int = 20, mode: str = "auto") -> CorpusSearch:
    """The ``top_k`` corpus tokens nearest to token ``token`` of the input (0-based among its
    tokens as the explorer shows them, [CLS] first) at ``layer``."""
    started = time.perf_counter()
    if top_k < 1:
        raise CorpusIndexError(f"--top-k must be at least 1, got {top_k}")
    index.check_model(predictor)
    num_heads = predictor.config.num_attention_heads
    if heads is not None:
        if by != "context":
            raise CorpusIndexError("--heads needs --by context (heads have contexts, the "
                                   "hidden state is the heads' mix)")
        bad = [h for h in heads if not 0 <= h < num_heads]
        if bad or not heads:
            raise CorpusIndexError(f"--heads: the model has heads 0..{num_heads - 1}, not "
                                   f"{','.join(map(str, bad)) or 'none'}")
    stem = index.stem(layer, by)
    enc = predictor.tokenizer.encode(text_a, text_b,
                                     max_length=predictor.config.max_position_embeddings)
    if not 0 <= token < len(enc.ids):
        raise CorpusIndexError(f"--token {token}: the input has tokens 0..{len(enc.ids) - 1} "
                               f"({' '.join(enc.tokens)})")
    device = predictor.device
    ids = torch.tensor([enc.ids], device=device)
    with torch.inference_mode():
        out = layer_vectors(predictor.encoder, ids,
                            torch.tensor([enc.token_type_ids], device=device),
                            torch.ones_like(ids), (layer,), by == "context")
    query = out[stem][0, token].cpu().numpy().astype(np.float32)  # [H]
    if by == "context":
        query = head_mask_query(query, heads, num_heads)
    scores, rows, used = index.nearest(query, stem, top_k, mode)
    matches = [index.match(int(r), float(c), predictor.tokenizer)
               for c, r in zip(scores, rows) if r >= 0]
    return CorpusSearch(query_tokens=list(enc.tokens), token=token, layer=layer, by=by,
                        heads=heads, mode=used, indexed_tokens=index.tokens, matches=matches,
                        summary=word_summary(matches, predictor.tokenizer.lowercase),
                        elapsed_ms=(time.perf_counter() - started) * 1000)
