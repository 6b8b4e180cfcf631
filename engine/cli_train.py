"""``bert-engine`` training subcommands: train-tokenizer, prepare, pretrain, evaluate."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

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
    p.add_argument("--run-dir", metavar="DIR", help="new run folder (config, status, metrics, "
                                                    "log, checkpoints)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--data", metavar="DIR", help="a folder written by `bert-engine prepare`")
    p.add_argument("--corpus", nargs="+", metavar="PATH",
                   help="instead of --data: text files or folders, prepared into RUN_DIR/data "
                        "by the job itself")
    p.add_argument("--tokenizer", metavar="PATH", help="with --corpus: the vocabulary to use "
                   "(default: --init-model's, else one trained on the corpus into RUN_DIR/tokenizer)")
    p.add_argument("--vocab-size", type=int, default=30522, help="with --corpus and a trained "
                                                                 "tokenizer")
    p.add_argument("--heldout-fraction", type=float, default=0.02,
                   help="with --corpus: share of documents held out for evaluation")
    p.add_argument("--init-model", metavar="DIR", help="start from this checkpoint; missing "
                                                       "MLM/NSP heads are initialised")
    p.add_argument("--preset", default="mini", help="tiny mini small medium base large")
    for name in ("layers", "hidden", "heads", "intermediate"):
        p.add_argument(f"--{name}", type=int, help=f"override the preset's {name}")
    p.add_argument("--dropout", type=float, help="hidden and attention dropout (default 0.1)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-steps", type=int, help="optimizer steps (with --resume: extend to)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--schedule", default="linear", choices=["linear", "cosine", "constant"])
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto: bf16 autocast on CUDA, fp32 on CPU")
    p.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--whole-word", action="store_true", help="whole-word masking")
    p.add_argument("--nsp-near-negatives", type=float, default=0.0, metavar="P",
                   help="share of NotNext pairs whose B comes from a nearby document (in corpus "
                        "order: the same book or collection) rather than any other; harder "
                        "negatives that need continuity, not style (default 0)")
    p.add_argument("--nsp-loss-weight", type=float, default=1.0, metavar="W",
                   help="weight of the NSP loss in the objective, the MLM loss's being 1 "
                        "(default 1, as in BERT); logged losses stay unweighted")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=0, help="0: at checkpoints only")
    p.add_argument("--eval-batches", type=int, default=20)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--keep-checkpoints", type=int, default=3)
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


def _train_tokenizer(files: list[Path], vocab_size: int, lowercase: bool = True,
                     min_frequency: int = 2):
    """A WordPiece vocabulary trained on every line of ``files`` (compressed ones too)."""
    from engine.data.corpus import open_text
    from engine.tokenizer import WordPieceTokenizer

    def lines():
        for path in files:
            with open_text(path) as f:
                yield from f

    return WordPieceTokenizer.train_from_texts(lines(), ", ".join(map(str, files)),
                                               vocab_size=vocab_size, lowercase=lowercase,
                                               min_frequency=min_frequency)


def cmd_train_tokenizer(args: argparse.Namespace) -> int:
    from engine.data.corpus import expand_paths

    files = expand_paths(args.inputs)
    tokenizer = _train_tokenizer(files, args.vocab_size, lowercase=not args.cased,
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


def _specs_from_args(args: argparse.Namespace):
    from engine.train.loop import TrainConfig
    from engine.train.pretraining import PretrainSpec

    if bool(args.data) == bool(args.corpus):
        raise ValueError("a new run needs either --data (prepared) or --corpus (text)")
    if args.corpus:
        args.data = str(Path(args.run_dir) / "data")
    if not args.max_steps:
        raise ValueError("--max-steps is required for a new run")
    spec = PretrainSpec(data=str(Path(args.data).resolve()),
                        init_model=str(Path(args.init_model).resolve()) if args.init_model else None,
                        preset=args.preset, layers=args.layers, hidden=args.hidden,
                        heads=args.heads, intermediate=args.intermediate, dropout=args.dropout,
                        max_seq_length=args.seq_len, batch_size=args.batch_size,
                        max_predictions=args.max_predictions, whole_word=args.whole_word,
                        near_negatives=args.nsp_near_negatives,
                        nsp_loss_weight=args.nsp_loss_weight,
                        eval_batches=args.eval_batches, seed=args.seed)
    cfg = TrainConfig(max_steps=args.max_steps, lr=args.lr, warmup_steps=args.warmup_steps,
                      schedule=args.schedule, weight_decay=args.weight_decay,
                      grad_accum=args.grad_accum, precision=args.precision,
                      log_every=args.log_every, eval_every=args.eval_every,
                      checkpoint_every=args.checkpoint_every,
                      keep_checkpoints=args.keep_checkpoints, seed=args.seed)
    return spec, cfg


def _check_corpus_job(args: argparse.Namespace, spec) -> None:
    """What can be checked before a --corpus job prepares anything: files, sizes, tokenizer."""
    from engine.data.corpus import expand_paths
    from engine.train.pretraining import PretrainingTask

    for path in expand_paths(args.corpus):  # raises for missing or empty inputs
        with open(path, "rb") as f:
            f.read(1)
    if args.tokenizer:
        from engine.tokenizer import WordPieceTokenizer

        WordPieceTokenizer.from_file(args.tokenizer)
    if not 0.0 <= args.heldout_fraction < 1.0:
        raise ValueError(f"--heldout-fraction must be in [0, 1), got {args.heldout_fraction}")
    if spec.init_model is None:  # sizes, with a stand-in vocabulary
        PretrainingTask.config_for(spec, args.vocab_size)


def _process_fields() -> dict:
    """Who runs the job: lets a monitor check the process from the first status on."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _prepare_in_run(args: argparse.Namespace, run) -> str | None:
    """Tokenizer (given, the init model's, or trained) and RUN_DIR/data, logged in the run.
    Returns "paused" or "cancelled" when a stop was asked for meanwhile (then training does
    not start; a resume prepares nothing again and trains from step 0)."""
    from engine.heartbeat import Heartbeat

    run.write_status(message="preparing data")
    try:
        with Heartbeat(run, 5.0, threading.Lock()):
            _tokenize_corpus(args, run)
    except Exception as exc:
        run.write_status(state="failed", error=f"preparing the data failed: {exc}")
        run.log(f"failed: preparing the data: {exc}")
        raise
    mode = run.stop_requested()
    if mode is None:
        return None
    state = "paused" if mode == "pause" else "cancelled"
    run.clear_stop_request()
    run.write_status(state=state, message=None)
    run.log(f"stop requested ({mode}) after preparing the data: {state} before training")
    print(f"{run.path}: {state} at step 0")
    return state


def _tokenize_corpus(args: argparse.Namespace, run) -> None:
    from engine.data.corpus import expand_paths
    from engine.data.shards import prepare_corpus
    from engine.tokenizer import WordPieceTokenizer

    files = expand_paths(args.corpus)
    if args.tokenizer or args.init_model:
        tokenizer = WordPieceTokenizer.from_file(args.tokenizer or args.init_model)
    else:
        run.log(f"training a {args.vocab_size}-token WordPiece vocabulary on {len(files)} file(s)")

        tokenizer = _train_tokenizer(files, args.vocab_size)
        tokenizer.save(run.path / "tokenizer")
    report = prepare_corpus(files, tokenizer, run.path / "data",
                            heldout_fraction=args.heldout_fraction)
    docs, toks = report.documents, report.tokens
    run.log(f"prepared {docs['train']} training documents ({toks['train']} tokens) and "
            f"{docs.get('heldout', 0)} held-out ({toks.get('heldout', 0)}) in {report.seconds:.1f} s")


def cmd_pretrain(args: argparse.Namespace) -> int:
    from engine.runlog import RunFolder
    from engine.train import distributed
    from engine.train.pretraining import PretrainingTask, PretrainSpec

    if bool(args.run_dir) == bool(args.resume):
        raise ValueError("give either --run-dir for a new run or --resume RUN_DIR")
    ctx = distributed.setup(args.device)
    try:
        if args.resume:
            run, saved = open_for_resume(args.resume, ctx, "pretrain")
            spec = PretrainSpec(**saved["task"])
            task = PretrainingTask(spec)
            cfg = resumed_train_config(run, saved, ctx, args.max_steps)
        else:
            spec, cfg = _specs_from_args(args)
            if args.corpus:
                _check_corpus_job(args, spec)
            else:
                PretrainingTask(spec).model_config()  # bad data or sizes fail before any folder exists
            run = RunFolder(args.run_dir)
            stopped = None
            if ctx.is_main:
                RunFolder.create(args.run_dir, {
                    "kind": "pretrain", "task": dataclasses.asdict(spec),
                    "train": dataclasses.asdict(cfg), "world_size": ctx.world_size,
                    "hardware": ctx.hardware(),
                    "command": sys.argv, "created": time.time()})
                run.write_status(state="starting", step=0, max_steps=cfg.max_steps,
                                 **_process_fields())
                if args.corpus:
                    stopped = _prepare_in_run(args, run)
            if ctx.broadcast_object(stopped) is not None:  # every rank stops, or none
                return 0
            task = PretrainingTask(spec)
        return train_in_run(task, cfg, run, ctx, resume=bool(args.resume))
    finally:
        ctx.close()


def open_for_resume(path: str, ctx, kind: str):
    """The run folder to resume and its saved config, checked against this launch."""
    from engine.runlog import RunFolder

    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("kind", kind) != kind:
        raise ValueError(f"{run.path} is a {saved.get('kind')} run: resume it with "
                         f"`bert-engine {saved.get('kind')} --resume`")
    if ctx.is_main:  # a request left by a dead process must not stop this one
        run.clear_stop_request()
        run.write_status(state="starting", error=None, message=None, **_process_fields())
    if saved.get("world_size", 1) != ctx.world_size:
        # The saved data position counts global batches of batch x world size.
        raise ValueError(f"{run.path} was trained with {saved.get('world_size', 1)} "
                         f"process(es); resume it with the same number, not {ctx.world_size}")
    return run, saved


def resumed_train_config(run, saved: dict, ctx, max_steps: int | None):
    """The saved TrainConfig, with ``max_steps`` extended when asked; the new goal is saved,
    so a later plain ``--resume`` keeps it."""
    from engine.train.loop import TrainConfig

    cfg = TrainConfig(**{**saved["train"], **({"max_steps": max_steps} if max_steps else {})})
    if max_steps and ctx.is_main:
        run.update_config({**saved, "train": dataclasses.asdict(cfg)})
    return cfg


def train_in_run(task, cfg, run, ctx, resume: bool) -> int:
    """Train ``task`` in ``run`` (from its last checkpoint when ``resume``); the exit code."""
    from engine.train.loop import Trainer, TrainingFailed

    try:
        trainer = Trainer(task, cfg, run, ctx)
    except Exception as exc:  # the model cannot be built: say so, never stay "starting"
        if ctx.is_main:
            run.write_status(state="failed", error=f"could not start: {exc}")
        raise
    if task.heldout_note and ctx.is_main:
        run.log(f"warning: {task.heldout_note}")
    if ctx.is_main:
        run.write_status(state="starting", max_steps=cfg.max_steps, error=None, message=None)
    if resume:
        try:
            trainer.resume()
        except Exception as exc:
            if ctx.is_main:
                run.write_status(state="failed", error=f"could not resume: {exc}")
            raise
    try:
        state = trainer.train()
    except TrainingFailed as exc:
        print(f"bert-engine: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if ctx.is_main:
        print(f"{run.path}: {state} at step {trainer.step}")
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
