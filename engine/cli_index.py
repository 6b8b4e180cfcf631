"""``bert-engine index`` (a corpus index, built as a background job like training) and
``bert-engine search`` (the corpus tokens nearest to a token of the input). Parse and print;
``engine.corpus_index`` does the work."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from engine.cli_precision import add_precision_options
from engine.corpus_index.spec import IndexSpec

INDEX_HELP = ("index a corpus: every non-special token's hidden state at the chosen layers "
              "(optionally each head's attention context), L2-normalised, for `search`; a job "
              "with a status the monitor shows, stopped and resumed shard by shard")
SEARCH_HELP = ("the corpus tokens whose vector at --layer is nearest (cosine) to token --token "
               "of the input, with their sentences and a summary of their words")


def add_index_commands(sub, predictor: Callable, emit: Callable) -> None:
    p = sub.add_parser("index", help=INDEX_HELP, description=INDEX_HELP)
    IndexSpec.add_arguments(p)
    p.add_argument("--out", "--run-dir", dest="out", metavar="IDX",
                   help="the new index folder (a run folder; --run-dir is the same, as the "
                        "monitor's jobs name it)")
    p.add_argument("--resume", metavar="IDX", help="continue a stopped index job after its last "
                                                   "finished shard")
    p.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help=SEARCH_HELP, description=SEARCH_HELP)
    s.add_argument("--index", required=True, metavar="IDX", help="a finished index folder")
    s.add_argument("text_a", metavar="TEXT_A", help="sentence A")
    s.add_argument("text_b", metavar="TEXT_B", nargs="?", help="sentence B")
    s.add_argument("--token", type=int, required=True, metavar="K",
                   help="the input token, 0-based among its tokens as the explorer shows them "
                        "([CLS] is 0)")
    s.add_argument("--layer", type=int, required=True, metavar="L",
                   help="an indexed layer, from 0; -1 is the last")
    s.add_argument("--by", choices=("embedding", "context"), default="embedding",
                   help="embedding: the hidden state leaving the layer (default); context: the "
                        "heads' attention contexts (an index built with --contexts)")
    s.add_argument("--heads", metavar="H,H", help="with --by context: only these heads (the mean "
                                                  "of their cosines)")
    s.add_argument("--top-k", type=int, default=20, metavar="N", help="matches (default 20)")
    s.add_argument("--mode", choices=("auto", "exact", "compressed"), default="auto",
                   help="exact: scan every vector; compressed: IVF-PQ candidates re-scored "
                        "exactly; auto (default): exact up to 500000 vectors")
    s.add_argument("--model", metavar="DIR", help="the index's model (default: the one that "
                                                  "built it); another model is refused")
    s.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    s.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_precision_options(s)
    s.set_defaults(func=lambda args: cmd_search(args, predictor, emit))


def cmd_index(args: argparse.Namespace) -> int:
    from engine.corpus_index.build import resume_index, start_index

    if bool(args.out) == bool(args.resume):
        raise ValueError("give either --out for a new index or --resume IDX")
    end = start_index(IndexSpec.from_args(args), args.out) if args.out else resume_index(args.resume)
    print(f"{end.path}: {end.state}, {end.tokens} tokens indexed")
    return 0


def _heads(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return sorted({int(h) for h in text.split(",")})
    except ValueError:
        raise ValueError(f"--heads must be head numbers separated by commas (e.g. 0,3), "
                         f"got {text!r}") from None


def cmd_search(args: argparse.Namespace, predictor: Callable, emit: Callable) -> int:
    from engine.corpus_index.search import CorpusIndex, search_text

    heads = _heads(args.heads)
    index = CorpusIndex(args.index)  # an unfinished or foreign folder fails before the model load
    args.model = args.model or index.model_path
    p = predictor(args)
    layer = args.layer % p.config.num_hidden_layers if args.layer < 0 else args.layer
    result = search_text(p, index, args.text_a, args.text_b, args.token, layer, args.by, heads,
                         args.top_k, args.mode)
    query = result.query_tokens[result.token]
    lines = [f"{query!r} (token {result.token}) at layer {layer}, by {result.by}"
             f"{' heads ' + args.heads if heads else ''}: {result.mode} search over "
             f"{result.indexed_tokens} tokens, {result.elapsed_ms:.0f} ms"]
    for m in result.matches:
        marked = (f"{m.sentence[:m.word_start]}[{m.sentence[m.word_start:m.word_end]}]"
                  f"{m.sentence[m.word_end:]}")
        lines.append(f"{m.cosine:6.3f}  {m.word:<14} {marked}")
    lines.append("words: " + ", ".join(f"{w.word} {w.count}" for w in result.summary))
    emit(args, result.to_dict(), lines)
    return 0
