"""``bert-engine`` training subcommands: train-tokenizer, prepare, pretrain, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from engine.specs import PretrainJob

EXIT_FAILED = 3  # a training run that stopped in state `failed`


def add_training_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-tokenizer", help="train a WordPiece vocabulary from text files")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="text files or folders")
    p.add_argument("--out", required=True, metavar="DIR", help="writes vocab.txt, tokenizer.json")
    p.add_argument("--vocab-size", type=int, default=30522)
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--cased", action="store_true", help="keep case (default: lowercase)")
    p.set_defaults(func=cmd_train_tokenizer)

    p = sub.add_parser("prepare", help="tokenize a corpus once into on-disk shards")
    p.add_argument("inputs", nargs="*", metavar="PATH",
                   help="BERT-layout text (one sentence per line, blank line between documents)"
                        "; .gz/.xz/.bz2 and folders accepted; none: a held-out-only folder "
                        "for `evaluate`")
    p.add_argument("--tokenizer", required=True, metavar="PATH",
                   help="vocab.txt, tokenizer.json or a folder holding them")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--heldout", nargs="*", default=[], metavar="PATH",
                   help="files whose documents form the held-out split")
    p.add_argument("--heldout-fraction", type=float, default=0.0,
                   help="also hold out this share of documents (chosen by a hash of the text)")
    p.add_argument("--split-sentences", action="store_true",
                   help="input is raw paragraphs: split sentences with the built-in rules")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("pretrain", help="MLM + NSP pretraining into a run folder")
    add_run_folder_options(p)
    PretrainJob.add_arguments(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("export", help="copy a checkpoint (a run's step-N folder, say) to a "
                                      "plain HF folder, optionally in half precision")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--dtype", default="fp32", choices=sorted(_DTYPES),
                   help="weights on disk; loading gives fp32 again (default fp32)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("evaluate", help="held-out masked-token accuracy and NSP accuracy")
    p.add_argument("--model", metavar="DIR", help="default: the bundled model")
    p.add_argument("--data", required=True, metavar="DIR", help="prepared data with a held-out "
                                                                "split")
    p.add_argument("--split", default="heldout")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches", type=int, default=50)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def add_run_folder_options(p: argparse.ArgumentParser) -> None:
    """--run-dir (a new run) or --resume (a run to continue): pretrain's and finetune's."""
    p.add_argument("--run-dir", metavar="DIR", help="new run folder (config, status, metrics, "
                                                    "log, checkpoints)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")


def cmd_train_tokenizer(args: argparse.Namespace) -> int:
    from engine.data.corpus import expand_paths
    from engine.train.corpus_job import train_tokenizer

    files = expand_paths(args.inputs)
    tokenizer = train_tokenizer(files, args.vocab_size, lowercase=not args.cased,
                                 min_frequency=args.min_frequency)
    tokenizer.save(args.out)
    print(f"wrote {args.out}: {tokenizer.vocab_size} tokens"
          f"{'' if args.cased else ', lowercase'}, from {len(files)} file(s)")
    return 0


def _progress_printer():
    last = [0.0]

    def show(bytes_read: int, seconds: float) -> None:
        if seconds - last[0] >= 0.5:
            last[0] = seconds
            print(f"\r{bytes_read / 1e6:8.1f} MB  {bytes_read / 1e6 / max(seconds, 1e-9):6.1f} MB/s",
                  end="", file=sys.stderr, flush=True)
    return show


def cmd_prepare(args: argparse.Namespace) -> int:
    from engine.data.shards import prepare_corpus
    from engine.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_file(args.tokenizer)
    report = prepare_corpus(args.inputs, tokenizer, args.out, heldout_inputs=args.heldout,
                            heldout_fraction=args.heldout_fraction,
                            split_sentences=args.split_sentences, overwrite=args.overwrite,
                            progress=_progress_printer())
    print(file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2))
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from engine.train import run

    if is_new_run(args):
        job = PretrainJob.from_args(args)
        return run_job(lambda: run.start_pretraining(job, args.run_dir))
    return run_job(lambda: run.resume(args.resume, "pretrain", args.device, args.max_steps))


def is_new_run(args: argparse.Namespace) -> bool:
    """True for --run-dir, False for --resume; ValueError for both or neither."""
    if bool(args.run_dir) == bool(args.resume):
        raise ValueError("give either --run-dir for a new run or --resume RUN_DIR")
    return bool(args.run_dir)


def run_job(start: Callable) -> int:
    """Start or resume a run (``start``); print how it ended and return the exit status."""
    from engine.train.loop import TrainingFailed

    try:
        end = start()
    except TrainingFailed as exc:
        print(f"bert-engine: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if end is not None:  # the main process
        print(f"{end.path}: {end.state} at step {end.step}")
        if end.test is not None:
            print(json.dumps(end.test))
    return 0


_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def cmd_export(args: argparse.Namespace) -> int:
    import torch

    from engine.checkpoint import load_checkpoint, save_checkpoint

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.resolve() == Path(args.model).resolve():
        raise ValueError(f"{out}: is the --model folder itself; export to another folder")
    loaded = load_checkpoint(args.model, device="cpu")
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    dtype = getattr(torch, _DTYPES[args.dtype])
    if dtype == torch.float16:
        biggest = max(p.detach().abs().max().item() for p in loaded.model.parameters())
        if biggest > torch.finfo(torch.float16).max:
            raise ValueError(f"{args.model}: a weight of {biggest:.3g} does not fit in fp16; "
                             "export fp32 or bf16")
    save_checkpoint(loaded.model, out, tokenizer=loaded.tokenizer, dtype=dtype)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out}: {loaded.architecture}, {args.dtype}, {size / 2**20:.1f} MiB")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.checkpoint import load_checkpoint
    from engine.paths import model_or_default
    from engine.data.shards import TokenizedCorpus
    from engine.infer import resolve_device
    from engine.train.pretraining import evaluate_pretraining

    device = resolve_device(args.device)
    args.model = model_or_default(args.model)
    loaded = load_checkpoint(args.model, device=device)
    if not {"mlm", "nsp"} <= loaded.capabilities:
        raise ValueError(f"{args.model} lacks {', '.join(loaded.missing_capabilities)}: "
                         "evaluate needs both pretraining heads")
    corpus = TokenizedCorpus(args.data, args.split)
    if loaded.tokenizer is not None and loaded.tokenizer.get_vocab() != corpus.tokenizer().get_vocab():
        raise ValueError(f"{args.data} was prepared with another vocabulary than {args.model}")
    scores = evaluate_pretraining(loaded.model, corpus, corpus.tokenizer().mask_id, args.seq_len,
                                  args.batch_size, args.batches, device, seed=args.seed)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(f"masked-token top-1 accuracy {scores['mlm_acc']:.2%} over "
              f"{scores['masked_tokens']} tokens (MLM loss {scores['mlm_loss']:.3f})\n"
              f"NSP accuracy {scores['nsp_acc']:.2%} over {scores['pairs']} pairs "
              f"(IsNext pairs {scores['nsp_isnext_acc']:.2%}, NotNext pairs "
              f"{scores['nsp_notnext_acc']:.2%})")
    return 0
