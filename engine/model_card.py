"""The one line of a model card that says what the model is good at and what not.

`scripts/default_model/card.py` writes it into the default model's MODEL_CARD.md; the explorer
shows it on first launch (model bar tooltip, About box). Any card may carry it: a paragraph that
starts with ``SUMMARY_MARK``.
"""

from __future__ import annotations

import re

SUMMARY_MARK = "**In one line:**"


def card_summary(card: str) -> str | None:
    """The paragraph after ``SUMMARY_MARK``, on one line and without the mark; None when the card
    has no such paragraph."""
    found = re.search(rf"^{re.escape(SUMMARY_MARK)}(.*?)(?=\n\s*\n|\Z)", card, re.M | re.S)
    text = " ".join(found.group(1).split()) if found else ""
    return text or None
