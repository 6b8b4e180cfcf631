"""Benchmark: our fine-tuning step against the stock ``transformers`` step.

Sequence-pair classification (2 labels) on the BERT-Base config (12 layers, hidden 768, vocab
30522), batch 16, seq 128, CPU. Data: consecutive sentence pairs of the shipped corpus slice
(one sentence per line, blank line between documents), labels 0/1 drawn with a fixed seed,
encoded by our real fine-tuning pipeline (``FinetuningTask`` reading a JSONL file, the
bundled tokenizer) and then padded to exactly 128 tokens, as ``transformers``' ``run_glue.py``
does by default (``pad_to_max_length``). Every side gets these identical batches and starts
from the same weights; the sides alternate step by step.

Ours: ``Trainer.train_step`` (forward, backward, clipping, fused AdamW) over
``FinetuningTask.losses``, which runs the batch's rows in groups of similar length, each
trimmed to its own longest row (the same loss sums as one padded pass). Stock: ``transformers.BertForSequenceClassification(input_ids,
attention_mask, token_type_ids, labels)``, ``loss.backward()``, ``torch.optim.AdamW(lr,
weight_decay=0.01)``. A third row, "stock + dynamic padding", runs the stock step on the same
batches trimmed to their longest row, to show how much of the gain is that trimming. The
first-step losses are compared with dropout off; timing runs with dropout on (0.1).

    .venv/bin/python bench/finetune.py [--steps 10] [--warmup 2] [--threads N]

About 4 minutes on 2 idle cores (a step is ~6 s). Another busy process makes every side
several times slower and the ratio meaningless: with 2 threads, each small parallel region
(the optimizer's per-parameter kernels above all) waits for the descheduled thread.

Where the difference at equal width comes from (forward + backward and the optimizer timed
apart, including ``torch.optim.AdamW(fused=True)``):

    .venv/bin/python bench/finetune.py --split [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.checkpoint import save_checkpoint  # noqa: E402
from engine.config import BertConfig  # noqa: E402
from engine.model import BertForSequenceClassification  # noqa: E402
from engine.runlog import RunFolder  # noqa: E402
from engine.tokenizer import WordPieceTokenizer  # noqa: E402
from engine.train.distributed import DistributedContext  # noqa: E402
from engine.specs import FinetuneSpec, TrainConfig  # noqa: E402
from engine.train.finetuning import FinetuningTask  # noqa: E402
from engine.train.loop import Trainer, _Window  # noqa: E402

SLICE = ROOT / "resources" / "corpus" / "slice.txt"
TOKENIZER = ROOT / "resources" / "models" / "default"
BATCH, SEQ, LR = 16, 128, 2e-5
PER_TOKEN = ("input_ids", "attention_mask", "token_type_ids")


def write_pairs(path: Path, seed: int = 0) -> int:
    """Consecutive sentences of each document of the slice as (text, text_b), random 0/1 label."""
    docs: list[list[str]] = [[]]
    for line in SLICE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            docs[-1].append(line)
        elif docs[-1]:
            docs.append([])
    pairs = [(d[i], d[i + 1]) for d in docs for i in range(0, len(d) - 1, 2)]
    labels = np.random.default_rng(seed).integers(0, 2, len(pairs))
    with open(path, "w", encoding="utf-8") as f:
        for (a, b), y in zip(pairs, labels):
            f.write(json.dumps({"text": a, "text_b": b, "label": str(int(y))}) + "\n")
    return len(pairs)


def stock_model(dropout: float):
    import transformers

    config = transformers.BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                                     num_attention_heads=12, intermediate_size=3072,
                                     num_labels=2, hidden_dropout_prob=dropout,
                                     attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config).train()


def our_trainer(tmp: Path, stock) -> Trainer:
    """The real fine-tuning task (JSONL file, checkpoint folder) driven by the real Trainer.
    The checkpoint holds the stock weights; they are loaded again after ``build_model`` because
    a fine-tuning start initialises the task head afresh."""
    tokenizer = WordPieceTokenizer.from_file(TOKENIZER)
    ours = BertForSequenceClassification(BertConfig.preset("base", num_labels=2))
    ours.load_state_dict(stock.state_dict())
    save_checkpoint(ours, tmp / "base", tokenizer)
    train = tmp / "train.jsonl"
    write_pairs(train)
    spec = FinetuneSpec(task="classify", model=str(tmp / "base"), train=str(train),
                        text_b="text_b", batch_size=BATCH, max_seq_length=SEQ, dropout=0.1)
    cfg = TrainConfig(max_steps=10**6, lr=LR, schedule="constant", precision="fp32")
    ctx = DistributedContext(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    trainer = Trainer(FinetuningTask(spec), cfg, RunFolder.create(tmp / "run", {}), ctx)
    trainer.model.load_state_dict(stock.state_dict())  # in place: the optimizer keeps its params
    return trainer


def pad_to(batch: dict[str, torch.Tensor], width: int, pad_id: int) -> dict[str, torch.Tensor]:
    """A batch padded to its longest row -> the same batch padded to ``width`` columns."""
    out = dict(batch)
    for key in PER_TOKEN:
        v = batch[key]
        fill = pad_id if key == "input_ids" else 0
        extra = torch.full((v.shape[0], width - v.shape[1]), fill, dtype=v.dtype)
        out[key] = torch.cat([v, extra], dim=1)
    return out


def trim(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Dynamic padding for the stock step: drop the columns past the longest row."""
    width = int(batch["attention_mask"].sum(1).max())
    return {k: v[:, :width] if k in PER_TOKEN else v for k, v in batch.items()}


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Both implementations read their attention dropout from these modules' ``p``."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p


def stock_forward(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                 token_type_ids=batch["token_type_ids"], labels=batch["labels"])


def stock_step(model, optimizer, batch) -> float:
    out = stock_forward(model, batch)
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(out.loss.detach())


def first_losses(trainer: Trainer, stock, batch) -> tuple[float, float, float]:
    """Dropout off, the same padded batch: ours (sum / count), stock, stock on the trimmed batch."""
    set_dropout(stock, 0.0)
    set_dropout(trainer.model, 0.0)
    with torch.no_grad():
        theirs = float(stock_forward(stock, batch).loss)
        theirs_trimmed = float(stock_forward(stock, trim(batch)).loss)
        sums, _ = trainer.task.losses(trainer.model, batch)
        den = trainer.task.denominators(batch)
        ours = sum(float(sums[k]) / den[k] for k in sums)
    set_dropout(stock, 0.1)
    set_dropout(trainer.model, 0.1)
    return ours, theirs, theirs_trimmed


def bench_step(steps: int, warmup: int) -> None:
    stock = stock_model(dropout=0.1)
    stock_dyn = stock_model(dropout=0.1)  # the same seed: the same weights
    with tempfile.TemporaryDirectory() as tmp:
        trainer = our_trainer(Path(tmp), stock)
        pad_id = trainer.task.tokenizer.pad_id
        opt = torch.optim.AdamW(stock.parameters(), lr=LR, weight_decay=0.01)
        opt_dyn = torch.optim.AdamW(stock_dyn.parameters(), lr=LR, weight_decay=0.01)
        batches = [pad_to(next(trainer.batches), SEQ, pad_id) for _ in range(warmup + steps)]
        ours0, theirs0, trimmed0 = first_losses(trainer, stock, batches[0])
        if max(abs(ours0 - theirs0), abs(trimmed0 - theirs0)) > 1e-4:
            raise SystemExit(f"first-step losses differ: ours {ours0:.6f}, stock {theirs0:.6f}, "
                             f"stock trimmed {trimmed0:.6f}")
        den = trainer.task.denominators
        ours_s, theirs_s, dyn_s = [], [], []
        for i, batch in enumerate(batches):
            t0 = time.perf_counter()
            trainer.train_step(trainer.model, [batch], den(batch), _Window())
            t1 = time.perf_counter()
            stock_step(stock, opt, batch)
            t2 = time.perf_counter()
            stock_step(stock_dyn, opt_dyn, trim(batch))
            t3 = time.perf_counter()
            if i >= warmup:  # the first steps warm up allocators and kernels
                ours_s.append(t1 - t0)
                theirs_s.append(t2 - t1)
                dyn_s.append(t3 - t2)
            print(f"step {i}: ours {t1 - t0:.2f} s, stock {t2 - t1:.2f} s, "
                  f"stock dynamic {t3 - t2:.2f} s", file=sys.stderr, flush=True)
        attn = stock.config._attn_implementation
    timed = batches[warmup:]
    real = [float(b["attention_mask"].sum(1).float().mean()) for b in timed]
    longest = [int(b["attention_mask"].sum(1).max()) for b in timed]
    import transformers

    ours, theirs, dyn = (BATCH / statistics.median(s) for s in (ours_s, theirs_s, dyn_s))
    print(f"# bench/finetune.py step  BERT-Base, 2 labels, batch {BATCH}, seq {SEQ}, cpu, "
          f"threads={torch.get_num_threads()}, torch={torch.__version__}, "
          f"transformers={transformers.__version__} ({attn} attention), "
          f"steps={steps} (+{warmup} warm-up)")
    print(f"first-step loss (dropout off): ours {ours0:.6f}, stock {theirs0:.6f}, "
          f"diff {abs(ours0 - theirs0):.1e}; stock on the trimmed batch {trimmed0:.6f}")
    print(f"timed batches: mean real length {statistics.mean(real):.1f} of {SEQ} "
          f"(per batch: {', '.join(f'{r:.0f}' for r in real)}); longest row "
          f"{statistics.mean(longest):.1f} on average "
          f"(per batch: {', '.join(map(str, longest))})")
    print("| | sequences/s | median step ms | ratio ours / this |")
    print("|---|---|---|---|")
    print(f"| ours (padded to 128; rows grouped by length in `losses`) | {ours:.2f} | "
          f"{statistics.median(ours_s) * 1000:.0f} | |")
    print(f"| transformers + torch AdamW (padded to 128) | {theirs:.2f} | "
          f"{statistics.median(theirs_s) * 1000:.0f} | {ours / theirs:.2f}x |")
    print(f"| stock + dynamic padding (trimmed to the longest row) | {dyn:.2f} | "
          f"{statistics.median(dyn_s) * 1000:.0f} | {ours / dyn:.2f}x |")


def bench_split(reps: int) -> None:
    """Where the equal-width difference is: forward + backward, and the optimizer, timed apart
    on one batch (both models see the same columns: ours trims in ``losses``, stock gets the
    trimmed batch). Optimizers: ours (clipping + fused AdamW), ``torch.optim.AdamW`` as the
    main table uses it (on CPU its default is the per-parameter loop), and with ``fused=True``
    (``transformers.Trainer``'s default optimizer on torch >= 2.8)."""
    stock = stock_model(dropout=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = our_trainer(Path(tmp), stock)
        model, task = trainer.model, trainer.task
        batch = pad_to(next(trainer.batches), SEQ, task.tokenizer.pad_id)
        trimmed, den = trim(batch), task.denominators(batch)
        loop = torch.optim.AdamW(stock.parameters(), lr=LR, weight_decay=0.01)
        fused = torch.optim.AdamW(stock.parameters(), lr=LR, weight_decay=0.01, fused=True)

        def ours_fb() -> None:
            sums, _ = task.losses(model, batch)
            sum(sums[k] / den[k] for k in sums).backward()

        def ours_opt() -> None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.cfg.clip_norm)
            trainer.optimizer.step()

        parts = {"forward + backward, ours": ours_fb,
                 "forward + backward, stock": lambda: stock_forward(stock, trimmed).loss.backward(),
                 "optimizer, ours (clip + fused AdamW)": ours_opt,
                 "optimizer, torch.optim.AdamW (default)": loop.step,
                 "optimizer, torch.optim.AdamW(fused=True)": fused.step}
        times: dict[str, list[float]] = {k: [] for k in parts}
        for rep in range(reps + 1):  # the first round warms up
            for name, fn in parts.items():
                t0 = time.perf_counter()
                fn()
                if rep:
                    times[name].append(time.perf_counter() - t0)
            for opt in (trainer.optimizer, loop, fused):
                opt.zero_grad(set_to_none=True)
    real = float(batch["attention_mask"].sum(1).float().mean())
    print(f"# bench/finetune.py --split  BERT-Base, batch {BATCH}, one batch of width "
          f"{trimmed['input_ids'].shape[1]} (mean real length {real:.1f}), "
          f"threads={torch.get_num_threads()}, median of {reps}")
    print("| part | median ms |")
    print("|---|---|")
    for name, t in times.items():
        print(f"| {name} | {statistics.median(t) * 1000:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own, one per core)")
    parser.add_argument("--split", action="store_true",
                        help="instead: time forward + backward and the optimizer apart")
    parser.add_argument("--reps", type=int, default=3, help="rounds for --split")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.split:
        bench_split(args.reps)
        return
    bench_step(args.steps, args.warmup)


if __name__ == "__main__":
    main()
