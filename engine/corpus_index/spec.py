"""The settings of ``bert-engine index``, once: flags, help and checks (``engine.options``).
The CLI parser is generated from :class:`IndexSpec`, the job saves it as config.json "task"
and a resume reads it back. No torch."""

from __future__ import annotations

from dataclasses import dataclass

from engine.options import REQUIRED, Spec, option

CORPUS, INDEX = "corpus", "index"


def layer_list(text: str, num_layers: int | None = None) -> tuple[int, ...]:
    """``--layers`` text, "0,5" (negative counts from the last layer), as sorted layer numbers;
    ValueError naming the flag. With ``num_layers`` each must exist in the model."""
    try:
        layers = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--layers must be layer numbers separated by commas (e.g. 0,5), "
                         f"got {text!r}") from None
    if num_layers is None:
        return tuple(sorted(set(layers)))
    bad = [layer for layer in layers if not -num_layers <= layer < num_layers]
    if bad:
        raise ValueError(f"--layers {text}: the model has layers 0..{num_layers - 1}, "
                         f"not {', '.join(map(str, bad))}")
    return tuple(sorted({layer % num_layers for layer in layers}))


@dataclass
class IndexSpec(Spec):
    corpus: list | None = option("--corpus", REQUIRED, metavar="FILES", group=CORPUS, path=True,
                                 help="text files (one sentence per line; .gz/.xz/.bz2 too) or "
                                      "folders of *.txt* files")
    layers: str = option("--layers", REQUIRED, metavar="L,L,...", group=INDEX,
                         help="layers whose hidden states are indexed, from 0 (the first "
                              "layer's output); -1 is the last")
    model: str | None = option("--model", None, metavar="DIR", group=CORPUS, path=True,
                               help="checkpoint folder (HF layout); default: the bundled model")
    max_tokens: int | None = option("--max-tokens", None, metavar="N", group=INDEX, at_least=1,
                                    help="stop after N indexed tokens (whole sentences)")
    contexts: bool = option("--contexts", False, group=INDEX,
                            help="also index each head's attention context, for search "
                                 "restricted to chosen heads (--by context --heads)")
    seq_len: int = option("--seq-len", 128, group=INDEX, at_least=8,
                          help="longest sentence in tokens, [CLS] and [SEP] included; longer "
                               "ones are cut (default 128)")
    shard_tokens: int = option("--shard-tokens", 50_000, metavar="N", group=INDEX, at_least=1,
                               help="indexed tokens per shard: the unit a stopped job resumes "
                                    "from (default 50000)")
    batch_tokens: int = option("--batch-tokens", 8192, metavar="N", group=INDEX, at_least=8,
                               help="padded tokens per forward pass (default 8192)")
    compress_from: int = option("--compress-from", 100_000, metavar="N", group=INDEX,
                                at_least=256,
                                help="build a compressed (IVF-PQ) index for each layer with at "
                                     "least N vectors (default 100000; smaller ones are searched "
                                     "exactly, which is as fast there)")
    device: str | None = option("--device", None, group=INDEX,
                                help="cpu, cuda, cuda:1 ... (default: cuda if present)")

    def problems(self) -> list[str]:
        try:
            layer_list(self.layers)
        except ValueError as exc:
            return [str(exc)]
        if not self.corpus:
            return ["--corpus needs at least one file or folder"]
        return []
