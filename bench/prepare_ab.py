"""Before/after for `prepare`: ``prepare_corpus`` on one corpus in two checkouts of this
project, each in its own child process, alternating; wall time, CPU time (the Rust threads
included) and the process's peak memory.

    .venv/bin/python bench/prepare_ab.py BEFORE_CHECKOUT AFTER_CHECKOUT CORPUS [ROUNDS]

e.g. ``git archive <commit> | tar -x -C /tmp/before`` for BEFORE_CHECKOUT, and a CORPUS made
like ``bench/pretrain.py``'s (the shipped texts repeated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, shutil, sys, tempfile, time
checkout, corpus = sys.argv[1:3]
sys.path[:0] = [checkout, checkout + "/bench"]
from common import bert_base_vocab, peak_rss_bytes
from engine.data.shards import prepare_corpus
from engine.tokenizer import WordPieceTokenizer
tokenizer = WordPieceTokenizer.from_file(bert_base_vocab())
out = tempfile.mkdtemp()
wall, cpu = time.perf_counter(), time.process_time()
report = prepare_corpus([corpus], tokenizer, out + "/data")
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "peak_mib": peak_rss_bytes() / 2**20, "tokens": report.tokens["train"]}))
shutil.rmtree(out)
"""


def main() -> None:
    before, after, corpus = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    mb = Path(corpus).stat().st_size / 1e6
    print("| checkout | load | wall s | wall MB/s | CPU s | MB per CPU-second | peak MiB | tokens |")
    print("|---|---|---|---|---|---|---|---|")
    for _ in range(rounds):
        for checkout in (before, after):
            child = subprocess.run([sys.executable, "-c", CHILD, checkout, corpus],
                                   capture_output=True, text=True, check=True, cwd=checkout)
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"| {checkout} | {os.getloadavg()[0]:.1f} | {r['wall']:.1f} | "
                  f"{mb / r['wall']:.1f} | {r['cpu']:.1f} | {mb / r['cpu']:.1f} | "
                  f"{r['peak_mib']:.0f} | {r['tokens']} |", flush=True)


if __name__ == "__main__":
    main()
