"""Benchmark: ``Predictor.analyze`` against the stock ``transformers`` way of getting the same.

bert-base config, random weights, batch 1, fixed texts with one [MASK] at 128 and 512 tokens.
Baseline: the same ids through one ``transformers.BertForPreTraining`` forward (eager
attention, ``output_attentions=True``), then softmax + top-k at the masked position and the NSP
softmax. Both run interleaved in one process with the same thread count; outputs are checked
equal first. Peak memory (max RSS) of each is measured in its own child process.

    .venv/bin/python bench/analyze.py [--device cpu|cuda] [--reps 30] [--seqs 128 512] [--bf16]
                                  [--no-memory] [--cpu-time]

``--cpu-time``: one thread, each call timed by this process's CPU time (on a machine other jobs
load, CPU time moves far less than wall time); CPU only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (bert_base_vocab, cpu_description, fp32_ceiling_text,  # noqa: E402
                    peak_rss_bytes)
from engine.infer import Predictor  # noqa: E402
from engine.tokenizer import WordPieceTokenizer  # noqa: E402

TOP_K = 10
CLOCK = time.perf_counter  # time.process_time under --cpu-time
PASSAGE = (
    "The old lighthouse keeper climbed the narrow stairs every evening to light the lamp. "
    "Ships passing the rocky coast relied on its beam to find the harbour safely. "
    "One winter night a storm broke the great glass window at the top of the tower. "
    "He worked until dawn to cover it with wood and canvas so the light would not fail. "
    "In the morning the fishermen came to thank him and brought bread, cheese and news. "
)


def make_checkpoint(folder: Path, vocab_file: Path) -> None:
    """A random-init bert-base ``BertForPreTraining`` saved by ``transformers`` itself."""
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig()  # bert-base: 12 layers, 12 heads, hidden 768
    transformers.BertForPreTraining(config).save_pretrained(folder)
    (folder / "vocab.txt").write_bytes(vocab_file.read_bytes())


def fixed_pair(tokenizer: WordPieceTokenizer, seq_len: int) -> tuple[str, str]:
    """A pair that encodes to exactly ``seq_len`` tokens (no truncation), one [MASK] in A."""
    text_a = "The keeper lit the [MASK] again."
    words, fill = (PASSAGE * (seq_len // 10)).split(), []
    for word in words:
        if len(tokenizer.encode(text_a, " ".join(fill + [word])).ids) > seq_len:
            break
        fill.append(word)
    while len(tokenizer.encode(text_a, " ".join(fill)).ids) < seq_len:
        fill.append("a")  # a single-piece word tops the length up exactly
    text_b = " ".join(fill)
    assert len(tokenizer.encode(text_a, text_b).ids) == seq_len
    return text_a, text_b


class Baseline:
    """The stock approach: one HF forward with attentions, then the two softmaxes."""

    def __init__(self, folder: Path, device: torch.device):
        import transformers

        self.model = transformers.BertForPreTraining.from_pretrained(
            folder, attn_implementation="eager", dtype=torch.float32).to(device).eval()
        self.device = device

    def run(self, ids: list[int], types: list[int], mask_id: int):
        input_ids = torch.tensor([ids], device=self.device)
        token_types = torch.tensor([types], device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, token_type_ids=token_types,
                             output_attentions=True)
            masked = (input_ids[0] == mask_id).nonzero()[:, 0]
            probs, top = out.prediction_logits[0, masked].softmax(-1).topk(TOP_K)
            nsp = out.seq_relationship_logits.softmax(-1)[0, 0]
            attentions = torch.stack(out.attentions)[:, 0].float().cpu().numpy()
        return attentions, top.cpu().numpy(), float(nsp)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def check_equal(ours, theirs) -> dict[str, float]:
    att_diff = float(abs(ours.attentions - theirs[0]).max())
    nsp_diff = abs(ours.nsp_is_next - theirs[2])
    same_topk = bool((ours.fill_mask[0].token_ids == theirs[1][0]).all())
    if att_diff > 1e-5 or nsp_diff > 1e-5 or not same_topk:
        raise SystemExit(f"outputs differ: attention {att_diff:.2e}, NSP {nsp_diff:.2e}, "
                         f"same top-{TOP_K}: {same_topk}")
    return {"attention_max_diff": att_diff, "nsp_diff": nsp_diff}


def child_peak_rss(which: str, folder: Path, seq_len: int, device: str) -> float:
    """Peak memory in MiB (RSS on CPU, allocated on CUDA) of a fresh process that loads
    ``which`` and analyses the text 3 times."""
    out = subprocess.run([sys.executable, __file__, "--child", which, "--folder", str(folder),
                          "--seqs", str(seq_len), "--device", device],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def run_child(args: argparse.Namespace) -> None:
    folder, seq_len, device = Path(args.folder), args.seqs[0], torch.device(args.device)
    tokenizer = WordPieceTokenizer.from_file(folder)
    text_a, text_b = fixed_pair(tokenizer, seq_len)
    if args.child == "ours":
        predictor = Predictor.load(folder, device=device)
        for _ in range(3):
            predictor.analyze(text_a, text_b, top_k=TOP_K)
    else:
        enc = tokenizer.encode(text_a, text_b)
        baseline = Baseline(folder, device)
        for _ in range(3):
            baseline.run(enc.ids, enc.token_type_ids, tokenizer.mask_id)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else peak_rss_bytes()
    print(json.dumps({"peak_mib": peak / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--seqs", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--bf16", action="store_true",
                        help="also time ours with --precision bf16, interleaved with the others")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread, timed by CPU time (for a loaded machine; CPU only)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory child processes (faster reruns)")
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)

    vocab = bert_base_vocab()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bert-base-random"
        make_checkpoint(folder, vocab)
        predictor = Predictor.load(folder, device=device)
        baseline = Baseline(folder, device)
        print(f"# bench/analyze.py  device={device}  threads={torch.get_num_threads()}  "
              f"torch={torch.__version__}  reps={args.reps}  load={os.getloadavg()[0]:.1f}  "
              f"clock={'cpu time' if args.cpu_time else 'wall'}")
        clock = "CPU time, one thread" if args.cpu_time else "wall clock"
        print(f"# cpu: {cpu_description()}; {fp32_ceiling_text(CLOCK, clock)}")
        print("| seq | ours median ms | transformers median ms | ratio | ours peak MiB | "
              "transformers peak MiB | max attention diff |")
        print("|---|---|---|---|---|---|---|")
        for seq_len in args.seqs:
            text_a, text_b = fixed_pair(predictor.tokenizer, seq_len)
            enc = predictor.tokenizer.encode(text_a, text_b)
            mask_id = predictor.tokenizer.mask_id
            diffs = check_equal(predictor.analyze(text_a, text_b, top_k=TOP_K),
                                baseline.run(enc.ids, enc.token_type_ids, mask_id))
            bf16 = (Predictor.load(folder, device=device, precision="bf16") if args.bf16
                    else None)
            ours_ms, base_ms, bf16_ms = [], [], []
            for _ in range(args.reps):  # interleaved, so drift hits all alike
                sync(device)
                t0 = CLOCK()
                predictor.analyze(text_a, text_b, top_k=TOP_K)
                sync(device)
                t1 = CLOCK()
                baseline.run(enc.ids, enc.token_type_ids, mask_id)
                sync(device)
                t2 = CLOCK()
                ours_ms.append((t1 - t0) * 1000)
                base_ms.append((t2 - t1) * 1000)
                if bf16 is not None:
                    bf16.analyze(text_a, text_b, top_k=TOP_K)
                    sync(device)
                    bf16_ms.append((CLOCK() - t2) * 1000)
            ours, base = statistics.median(ours_ms), statistics.median(base_ms)
            peaks = (["-", "-"] if args.no_memory else
                     [f"{child_peak_rss(w, folder, seq_len, args.device):.0f}"
                      for w in ("ours", "baseline")])
            print(f"| {seq_len} | {ours:.1f} | {base:.1f} | {ours / base:.2f}x | "
                  f"{peaks[0]} | {peaks[1]} | {diffs['attention_max_diff']:.1e} |")
            if bf16 is not None:
                print(f"| {seq_len} (ours, --precision bf16) | {statistics.median(bf16_ms):.1f} | "
                      f"| {statistics.median(bf16_ms) / base:.2f}x | | | |")

if __name__ == "__main__":
    main()
