"""Steps that build `resources/models/default` (the commands are in its MODEL_CARD.md).

    build_default_model.py split --out WORK     training and held-out text from resources/corpus
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from default_model.split import SplitError, split_corpus  # noqa: E402


def cmd_split(args: argparse.Namespace) -> int:
    counts = split_corpus(ROOT / "resources" / "corpus", ROOT / "resources" / "corpus" / "heldout.json",
                          Path(args.out))
    print(json.dumps(counts, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("split", help="write WORK/train/*.txt and WORK/heldout/*.txt")
    p.add_argument("--out", required=True, metavar="WORK")
    p.set_defaults(func=cmd_split)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SplitError, OSError) as exc:
        print(f"build_default_model: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
