"""Steps that build `resources/models/default` (the commands are in its MODEL_CARD.md).

    build_default_model.py split --out WORK                 training and held-out text
    build_default_model.py evaluate --model M --work W --vocab V   every held-out measure (JSON)
    build_default_model.py card --model M --run RUN --step N [--earlier TRAINING.json]
                               [--start-weight W] [--note TEXT] --work W --comparison C.json
                                                              training.json and MODEL_CARD.md
    build_default_model.py probe --model M [--out FILE.json]  common-knowledge probe, dev and test
    build_default_model.py probe-overlap [CORPUS_FILE ...]    probe sentences sharing 8 words
                                                              with the training text
    build_default_model.py ship-check --baseline E.json --candidate E.json
                               --probe-before P.json --probe-after P.json   issue 24's ship rule
    build_default_model.py average --out DIR W:MODEL W:MODEL ...   weighted average (fp16)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from default_model.card import write_card  # noqa: E402
from default_model.common_probe import ProbeError, load_probe, markdown_summary, \
    multi_token_answers, score  # noqa: E402
from default_model.heldout_eval import evaluate_all  # noqa: E402
from default_model.probe_overlap import WINDOW, corpus_lines, shared_sentences  # noqa: E402
from default_model.probes import ours_top5, transformers_top5  # noqa: E402
from default_model.ship_rule import guarded_rows, markdown_rows, ships  # noqa: E402
from default_model.split import SplitError, split_corpus  # noqa: E402
from default_model.stages import NOTE_PREFIX, STAGES_NAME, StageError, read_stages, \
    stage_from_run, write_stages  # noqa: E402


def cmd_split(args: argparse.Namespace) -> int:
    counts = split_corpus(ROOT / "resources" / "corpus", ROOT / "resources" / "corpus" / "heldout.json",
                          Path(args.out))
    print(json.dumps(counts, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    results = evaluate_all(Path(args.model), Path(args.work), args.vocab)
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from engine.checkpoint import load_checkpoint
    from engine.infer import Predictor

    if not 0 <= args.start_weight < 1:
        print(f"build_default_model: --start-weight {args.start_weight:g} is not in [0, 1)",
              file=sys.stderr)
        return 2
    model, work = Path(args.model), Path(args.work)
    earlier = read_stages(Path(args.earlier)) if args.earlier else []
    probe = score(Predictor.load(model, device="cpu"), load_probe())
    stage = stage_from_run(Path(args.run), args.step)
    if args.start_weight:
        stage["start_weight"] = args.start_weight
    stage["history"] += [f"{NOTE_PREFIX}{text}" for text in args.note]
    stages = [*earlier, {**stage, "probe": probe["summary"]}]
    results = evaluate_all(model, work, "minilm")
    ours, theirs = ours_top5(model), transformers_top5(model)
    agrees = [[c[0] for c in a] for a in ours] == [[c[0] for c in b] for b in theirs]
    parameters = sum(p.numel() for p in load_checkpoint(model).model.parameters())  # tied once
    write_stages(model / STAGES_NAME, stages)
    folder_bytes = sum(p.stat().st_size for p in model.iterdir() if p.is_file())
    write_card(model / "MODEL_CARD.md", model_dir=model, stages=stages, work=work, results=results,
               probes_ours=ours, hf_agrees=agrees, probe=probe,
               comparison=json.loads(Path(args.comparison).read_text(encoding="utf-8")),
               weights_bytes=(model / "model.safetensors").stat().st_size,
               folder_bytes=folder_bytes, parameters=parameters)
    print(json.dumps({"results": results, "transformers_agrees": agrees}, indent=2))
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from engine.infer import Predictor

    items = load_probe()
    predictor = Predictor.load(Path(args.model), device="cpu")
    vocab = set(predictor.tokenizer.get_vocab())
    bad = multi_token_answers(items, vocab)
    if bad:
        print(f"build_default_model: answers that are not one token of {args.model}'s vocabulary: "
              + "; ".join(f"{a!r} in {s!r}" for s, a in bad), file=sys.stderr)
        return 2
    result = score(predictor, items)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown_summary(result))
    return 0


def cmd_probe_overlap(args: argparse.Namespace) -> int:
    items = load_probe()
    files = [Path(f) for f in args.files] or sorted((ROOT / "resources" / "corpus").glob("*.txt.xz"))
    found = shared_sentences(items, corpus_lines(files), WINDOW)
    print(f"{len(found)} of {len(items)} probe sentences share {WINDOW} consecutive words with "
          f"{', '.join(f.name for f in files)}")
    for sentence, line in sorted(found.items()):
        print(f"  {sentence}\n    training line: {line[:200]}")
    return 1 if found else 0


def cmd_ship_check(args: argparse.Namespace) -> int:
    baseline, candidate, before, after = (json.loads(Path(f).read_text(encoding="utf-8")) for f in
                                          (args.baseline, args.candidate, args.probe_before,
                                           args.probe_after))
    print(markdown_rows(guarded_rows(baseline, candidate)))
    b, a = before["summary"]["test"], after["summary"]["test"]
    print(f"\ntest probe: top-1 {100 * b['top1']:.1f}% -> {100 * a['top1']:.1f}%, "
          f"top-5 {100 * b['top5']:.1f}% -> {100 * a['top5']:.1f}%")
    verdict = ships(baseline, candidate, before, after)
    print("ship rule: met" if verdict else "ship rule: NOT met")
    return 0 if verdict else 1


def cmd_average(args: argparse.Namespace) -> int:
    from default_model.average import AverageError, average_checkpoints, parse_part
    from engine.results import CheckpointError

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"build_default_model: {out} exists (add --overwrite to replace it)", file=sys.stderr)
        return 2
    try:
        parts = [parse_part(text) for text in args.parts]
        average_checkpoints(parts, out)
    except (AverageError, CheckpointError) as exc:
        print(f"build_default_model: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: " + " + ".join(f"{w:g} x {folder}" for w, folder in parts))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("split", help="write WORK/train/*.txt and WORK/heldout/*.txt")
    p.add_argument("--out", required=True, metavar="WORK")
    p.set_defaults(func=cmd_split)
    p = sub.add_parser("evaluate", help="held-out MLM and NSP on every measure")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--work", required=True, metavar="WORK")
    p.add_argument("--vocab", required=True, help="suffix of WORK/data-VOCAB and WORK/eval-VOCAB")
    p.add_argument("--out", metavar="FILE.json")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("card", help="evaluate the exported model and write its MODEL_CARD.md")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--run", required=True, metavar="RUN_DIR")
    p.add_argument("--work", required=True, metavar="WORK")
    p.add_argument("--comparison", required=True, metavar="FILE.json",
                   help='{"scratch": evaluate JSON, "minilm": evaluate JSON}')
    p.add_argument("--step", type=int, required=True, help="the exported checkpoint's step")
    p.add_argument("--earlier", metavar="TRAINING.json",
                   help="the stages behind the run's --init-model (its training.json)")
    p.add_argument("--start-weight", type=float, default=0.0, metavar="W",
                   help="the model is (1 - W) x the run's step --step + W x its --init-model, "
                        "made by `average` (default 0: the step's export)")
    p.add_argument("--note", action="append", default=[], metavar="TEXT",
                   help="a line for the stage's history that its log does not hold (e.g. where "
                        "`--resume --max-steps` moved the schedule's end); may be repeated")
    p.set_defaults(func=cmd_card)
    p = sub.add_parser("probe", help="top-1 / top-5 on the common-knowledge probe (dev and test)")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--out", metavar="FILE.json", help="every sentence's top-5 and rank, as JSON")
    p.set_defaults(func=cmd_probe)
    p = sub.add_parser("probe-overlap", help=f"probe sentences sharing {WINDOW} consecutive words "
                                             "with the training text (exit 1 if any)")
    p.add_argument("files", nargs="*", metavar="CORPUS_FILE",
                   help="BERT-layout text files, .xz or plain (default: resources/corpus/*.txt.xz)")
    p.set_defaults(func=cmd_probe_overlap)
    p = sub.add_parser("ship-check", help="issue 24's ship rule: the test probe improves and no "
                                          "guarded held-out measure drops by more than one standard "
                                          "error (exit 1 if not met)")
    p.add_argument("--baseline", required=True, metavar="FILE.json", help="evaluate JSON, shipped model")
    p.add_argument("--candidate", required=True, metavar="FILE.json", help="evaluate JSON, new model")
    p.add_argument("--probe-before", required=True, metavar="FILE.json", help="probe JSON, shipped")
    p.add_argument("--probe-after", required=True, metavar="FILE.json", help="probe JSON, new model")
    p.set_defaults(func=cmd_ship_check)
    p = sub.add_parser("average", help="weighted average of checkpoints of the same config and "
                                       "vocabulary, written as an fp16 model folder")
    p.add_argument("parts", nargs="+", metavar="WEIGHT:MODEL",
                   help="a weight in (0, 1] and a checkpoint folder; the weights sum to 1")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    p.set_defaults(func=cmd_average)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SplitError, StageError, ProbeError, OSError) as exc:
        print(f"build_default_model: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
