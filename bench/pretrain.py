"""Benchmark: our pretraining step against the stock ``transformers`` step, and `prepare`.

Step: BERT-Mini config (4 layers, hidden 256, vocab 30522), batch 32, seq 128, CPU. Both start
from the same weights and get identical batches from our data pipeline; they alternate step by
step. Ours: ``Trainer.train_step`` (MLM decoder only at the masked positions, fused AdamW, in
fp32 the Linear products on oneDNN: ``engine.onednn_linear``).
Stock: ``transformers.BertForPreTraining(input_ids, attention_mask, token_type_ids, labels,
next_sentence_label)`` then ``torch.optim.AdamW(lr, weight_decay=0.01)``. The first-step losses
are compared with dropout off; timing runs with dropout on (0.1), as training does.

Prepare: ``bert-engine prepare`` throughput (MB/s of raw text) and peak memory, in a child
process, on a corpus of >= 50 MB made by repeating the shipped corpus.

    .venv/bin/python bench/pretrain.py [--steps 12] [--prepare-mb 60] [--precision both]
                                   [--cpu-time] [--no-prepare]

``--precision``: fp32 (ours and transformers in fp32), bf16 (ours with ``--precision bf16``,
bf16 autocast on CPU, against transformers under ``torch.autocast("cpu", torch.bfloat16)``),
or both, alternating step by step in one run. Each table prints the CPU model, its flags and
the fp32 matmul ceiling.

Throughput alone (e.g. BERT-Base, bf16, on a GPU), with model FLOPs utilisation
MFU = (6 x non-embedding parameters + 12 x layers x seq x hidden) x tokens/s / peak:

    python bench/pretrain.py --throughput --device cuda --preset base --batch-size 256
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import bert_base_vocab, cpu_description, fp32_ceiling_text  # noqa: E402
from engine.data.shards import prepare_corpus  # noqa: E402
from engine.runlog import RunFolder  # noqa: E402
from engine.tokenizer import WordPieceTokenizer  # noqa: E402
from engine.train.distributed import DistributedContext  # noqa: E402
from engine.specs import PretrainSpec, TrainConfig  # noqa: E402
from engine.train.loop import Trainer, _Window  # noqa: E402
from engine.train.pretraining import PretrainingTask  # noqa: E402

SLICE = ROOT / "resources" / "corpus" / "slice.txt"
LR = 1e-4
CLOCK = time.perf_counter  # time.process_time under --cpu-time


def stock_model(dropout: float):
    import transformers

    config = transformers.BertConfig(vocab_size=30522, hidden_size=256, num_hidden_layers=4,
                                     num_attention_heads=4, intermediate_size=1024,
                                     hidden_dropout_prob=dropout,
                                     attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)
    return transformers.BertForPreTraining(config).train()


def our_trainer(data: Path, run_dir: Path, stock, precision: str = "fp32") -> Trainer:
    spec = PretrainSpec(data=str(data), preset="mini", batch_size=32, max_seq_length=128)
    cfg = TrainConfig(max_steps=10**6, lr=LR, schedule="constant", precision=precision)
    ctx = DistributedContext(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    trainer = Trainer(PretrainingTask(spec), cfg, RunFolder.create(run_dir, {}), ctx)
    trainer.model.load_state_dict(stock.state_dict())  # in place: the optimizer keeps its params
    return trainer


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Both implementations read their attention dropout from these modules' ``p``."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p


def stock_step(model, optimizer, batch, precision: str = "fp32") -> float:
    """One step of the stock model; bf16: its forward under CPU autocast, as transformers'
    Trainer does with ``bf16=True``."""
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                else nullcontext())
    with autocast:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                    next_sentence_label=batch["next_sentence_label"])
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(out.loss)


def first_losses_agree(trainer: Trainer, stock, batch) -> tuple[float, float]:
    """Both models, dropout off, same batch: the stock loss and ours (sum / count)."""
    set_dropout(stock, 0.0)
    set_dropout(trainer.model, 0.0)
    with torch.no_grad():
        theirs = float(stock(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                             next_sentence_label=batch["next_sentence_label"]).loss)
        sums, _ = trainer.task.losses(trainer.model, batch)
        den = trainer.task.denominators(batch)
        ours = sum(float(sums[k]) / den[k] for k in sums)
    set_dropout(stock, 0.1)
    set_dropout(trainer.model, 0.1)
    return ours, theirs


def bench_step(data: Path, steps: int, precisions: list[str]) -> None:
    """Ours and the stock step at each of ``precisions``, all four (or two) alternating step
    by step in this one process, so a change of load hits every one alike."""
    with tempfile.TemporaryDirectory() as tmp:
        pairs = {}  # precision -> (our trainer, stock model, stock optimizer)
        for precision in precisions:
            stock = stock_model(dropout=0.1)
            trainer = our_trainer(data, Path(tmp) / f"run-{precision}", stock, precision)
            pairs[precision] = (trainer, stock,
                                torch.optim.AdamW(stock.parameters(), lr=LR, weight_decay=0.01))
        first = next(iter(pairs.values()))[0]
        batches = [next(first.batches) for _ in range(steps + 1)]
        ours0, theirs0 = first_losses_agree(*pairs[precisions[0]][:2], batches[0])
        if precisions[0] == "fp32" and abs(ours0 - theirs0) > 1e-4:
            raise SystemExit(f"first-step losses differ: ours {ours0:.6f}, stock {theirs0:.6f}")
        times = {(precision, who): [] for precision in precisions for who in ("ours", "stock")}
        for i, batch in enumerate(batches):
            for precision, (trainer, stock, optimizer) in pairs.items():
                t0 = CLOCK()
                trainer.train_step(trainer.model, [batch], trainer.task.denominators(batch),
                                   _Window())
                t1 = CLOCK()
                stock_step(stock, optimizer, batch, precision)
                t2 = CLOCK()
                if i:  # the first step of each warms up allocators and kernels
                    times[precision, "ours"].append(t1 - t0)
                    times[precision, "stock"].append(t2 - t1)
    print(f"\n# bench/pretrain.py step  BERT-Mini, batch 32, seq 128, cpu, "
          f"threads={torch.get_num_threads()}, torch={torch.__version__}, steps={steps}, "
          f"clock={'cpu time' if CLOCK is time.process_time else 'wall'}, "
          f"load={os.getloadavg()[0]:.1f}")
    print(f"# {machine_line()}")
    print(f"first-step loss (dropout off, {precisions[0]}): ours {ours0:.6f}, "
          f"stock {theirs0:.6f}, diff {abs(ours0 - theirs0):.1e}")
    print("| precision | ours seq/s | transformers seq/s | ours median step ms | "
          "transformers median step ms | ratio |")
    print("|---|---|---|---|---|---|")
    for precision in precisions:
        ours, theirs = (statistics.median(times[precision, who]) for who in ("ours", "stock"))
        stock_name = "fp32" if precision == "fp32" else "CPU autocast bf16"
        print(f"| {precision} (transformers {stock_name}) | {32 / ours:.1f} | "
              f"{32 / theirs:.1f} | {ours * 1000:.0f} | {theirs * 1000:.0f} | "
              f"{theirs / ours:.2f}x |")


def machine_line() -> str:
    """The CPU, its flags and its fp32 matmul ceiling, printed with every table."""
    clock = "CPU time" if CLOCK is time.process_time else "wall clock"
    return (f"cpu: {cpu_description()}; "
            f"{fp32_ceiling_text(CLOCK, f'{torch.get_num_threads()} threads, {clock}')}; "
            f"torch={torch.__version__}")


def make_big_corpus(path: Path, megabytes: int) -> int:
    parts = [lzma.decompress(p.read_bytes()) for p in sorted(SLICE.parent.glob("*.txt.xz"))]
    text = b"\n\n".join(parts) if parts else SLICE.read_bytes()
    written = 0
    with open(path, "wb") as f:
        while written < megabytes * 1_000_000:
            f.write(text + b"\n\n")
            written += len(text) + 2
    return written


def bench_prepare(megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "big.txt"
        size = make_big_corpus(corpus, megabytes)
        code = ("import json, sys, time\n"
                "from engine.data.shards import prepare_corpus\n"
                "from engine.tokenizer import WordPieceTokenizer\n"
                "t, c, m = time.perf_counter(), time.process_time(), time.thread_time()\n"
                "r = prepare_corpus([sys.argv[1]], WordPieceTokenizer.from_file(sys.argv[2]), "
                "sys.argv[3])\n"
                "s, c, m = time.perf_counter() - t, time.process_time() - c, time.thread_time() - m\n"
                "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
                "print(json.dumps({'seconds': s, 'cpu': c, 'main': m, "
                "'hwm_kib': int(hwm.split()[1]), 'tokens': r.tokens}))\n")
        out = subprocess.run([sys.executable, "-c", code, str(corpus), str(bert_base_vocab()),
                              str(Path(tmp) / "data")], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n# bench/pretrain.py prepare  {size / 1e6:.0f} MB of text, "
          f"bert-base-uncased vocab, 2 cores")
    print(f"# {machine_line()}")
    # CPU time (the Rust pool's threads included) and the main thread's: under load, wall
    # time on two free cores is about the main thread's plus half the rest.
    print(f"# load {os.getloadavg()[0]:.1f}")
    print("| MB | seconds | MB/s | CPU s | main thread CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    print(f"| {size / 1e6:.0f} | {result['seconds']:.1f} | "
          f"{size / 1e6 / result['seconds']:.1f} | {result['cpu']:.2f} | {result['main']:.2f} | "
          f"{result['hwm_kib'] / 1024:.0f} |")


def bench_throughput(data: Path, device: str, preset: str, batch_size: int, steps: int,
                     peak_tflops: float) -> None:
    """Our training step alone at full speed (default precision: bf16 autocast on CUDA)."""
    spec = PretrainSpec(data=str(data), preset=preset, batch_size=batch_size,
                        max_seq_length=128)
    cfg = TrainConfig(max_steps=10**6, lr=LR, schedule="constant")
    ctx = DistributedContext(rank=0, local_rank=0, world_size=1, device=torch.device(device))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(PretrainingTask(spec), cfg, RunFolder.create(Path(tmp) / "r", {}), ctx)
        den = trainer.task.denominators
        batches = [next(trainer.batches) for _ in range(steps + 3)]
        for batch in batches[:3]:  # warm-up: allocator, kernels, autotuning
            trainer.train_step(trainer.model, [batch], den(batch), _Window())
        if ctx.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for batch in batches[3:]:
            trainer.train_step(trainer.model, [batch], den(batch), _Window())
        if ctx.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        cfg_model = trainer.model.config
        embedding = sum(p.numel() for n, p in trainer.model.named_parameters()
                        if "embeddings" in n)
        non_embedding = sum(p.numel() for p in trainer.model.parameters()) - embedding
    seq_per_s = steps * batch_size / seconds
    tokens_per_s = seq_per_s * 128
    flops_per_token = (6 * non_embedding
                       + 12 * cfg_model.num_hidden_layers * 128 * cfg_model.hidden_size)
    mfu = flops_per_token * tokens_per_s / (peak_tflops * 1e12)
    name = torch.cuda.get_device_name() if ctx.device.type == "cuda" else "cpu"
    print(f"# bench/pretrain.py throughput  {preset}, seq 128, batch {batch_size}, {name}, "
          f"torch={torch.__version__}, {steps} timed steps")
    print(f"# {machine_line()}")
    print("| sequences/s | tokens/s | non-embedding params | MFU (peak "
          f"{peak_tflops:g} TFLOP/s) |")
    print("|---|---|---|---|")
    print(f"| {seq_per_s:.1f} | {tokens_per_s:.0f} | {non_embedding / 1e6:.1f}M | {mfu:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--prepare-mb", type=int, default=60)
    parser.add_argument("--throughput", action="store_true",
                        help="only time our step (see --device, --preset, --batch-size)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="base")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the device's dense bf16 peak (H100 SXM: 989)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both",
                        help="the step table's precisions: bf16 is ours with --precision bf16 "
                             "against transformers under CPU autocast bf16 (default: both, "
                             "alternating)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread, each step timed by CPU time (for a loaded machine)")
    parser.add_argument("--no-prepare", action="store_true", help="skip the prepare table")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)
    print(f"# load={os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        prepare_corpus([SLICE], WordPieceTokenizer.from_file(bert_base_vocab()), data,
                       heldout_fraction=0.02)
        if args.throughput:
            bench_throughput(data, args.device, args.preset, args.batch_size, args.steps,
                             args.peak_tflops)
            return
        bench_step(data, args.steps,
                   ["fp32", "bf16"] if args.precision == "both" else [args.precision])
    if not args.no_prepare:
        bench_prepare(args.prepare_mb)


if __name__ == "__main__":
    main()
