"""Before/after for `prepare`: ``prepare_corpus`` on one corpus in two checkouts of this
project, each in its own child process, alternating; wall time, CPU time (the Rust threads
included), the main thread's CPU time and the process's peak memory.

    .venv/bin/python bench/prepare_ab.py BEFORE_CHECKOUT AFTER_CHECKOUT CORPUS [ROUNDS] [--one-thread]

e.g. ``git archive <commit> | tar -x -C /tmp/before`` for BEFORE_CHECKOUT, and a CORPUS made
like ``bench/pretrain.py``'s (the shipped texts repeated).

``--one-thread`` keeps the Rust encoder on the calling thread (``TOKENIZERS_PARALLELISM=false``):
then CPU time is one thread's work, the figure a loaded machine moves least. On two free cores,
wall time is about the main thread's CPU time plus the Rust pool's share it waits for (its CPU
time, the process's less the main thread's, over two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from common import cpu_description

CHILD = r"""
import json, shutil, sys, tempfile, time
checkout, corpus = sys.argv[1:3]
sys.path[:0] = [checkout, checkout + "/bench"]
from common import bert_base_vocab, peak_rss_bytes
from engine.data.shards import prepare_corpus
from engine.tokenizer import WordPieceTokenizer
tokenizer = WordPieceTokenizer.from_file(bert_base_vocab())
out = tempfile.mkdtemp()
wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
report = prepare_corpus([corpus], tokenizer, out + "/data")
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "main": time.thread_time() - main,
                  "peak_mib": peak_rss_bytes() / 2**20, "tokens": report.tokens["train"]}))
shutil.rmtree(out)
"""


def main() -> None:
    one_thread = "--one-thread" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--one-thread"]
    before, after, corpus = args[:3]
    rounds = int(args[3]) if len(args) > 3 else 1
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"} if one_thread else None
    mb = Path(corpus).stat().st_size / 1e6
    print(f"# prepare_corpus, {mb:.0f} MB, {'Rust encoder on one thread' if one_thread else 'Rust pool'}; "
          f"cpu: {cpu_description()}")
    print("| checkout | load | wall s | wall MB/s | CPU s | MB per CPU-second | main thread CPU s "
          "| peak MiB | tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for _ in range(rounds):
        for checkout in (before, after):
            child = subprocess.run([sys.executable, "-c", CHILD, checkout, corpus], env=env,
                                   capture_output=True, text=True, check=True, cwd=checkout)
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"| {checkout} | {os.getloadavg()[0]:.1f} | {r['wall']:.1f} | "
                  f"{mb / r['wall']:.1f} | {r['cpu']:.2f} | {mb / r['cpu']:.1f} | {r['main']:.2f} | "
                  f"{r['peak_mib']:.0f} | {r['tokens']} |", flush=True)


if __name__ == "__main__":
    main()
