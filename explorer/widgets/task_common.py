"""What the task views share: a one-line task summary, tag names split into prefix and entity,
a colour per entity type, and the marks the token chips carry (tags, the QA answer span).

Input is an ``engine.results.Analysis`` and its ``TaskPrediction`` (plain lists, numpy arrays
and dataclasses); nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor

from explorer.text_edits import format_percent

OUTSIDE = "O"
TASK_CAPABILITIES = frozenset({"classify", "tag", "qa"})  # a fine-tuned head
TAG_PREFIXES = ("B", "I", "E", "S", "L", "U")  # BIO and BIOES / BILOU schemes
KIND_NAMES = {"classify": "classification", "multi_label": "multi-label classification",
              "regress": "regression", "tag": "token tagging", "qa": "question answering"}


@dataclass(frozen=True)
class EntityColour:
    background: QColor
    border: QColor


# Dark border / light fill pairs, told apart with the common colour-vision deficiencies.
_PALETTE = [("#7b3294", "#ead8f2"), ("#1b7837", "#d3eed8"), ("#b2182b", "#f8d6d6"),
            ("#2166ac", "#d4e4f4"), ("#8c6d00", "#f4e6b8"), ("#01665e", "#cdeeea"),
            ("#c51b7d", "#f9d3e8"), ("#545454", "#e4e4e4")]
ENTITY_COLOURS = [EntityColour(QColor(bg), QColor(border)) for border, bg in _PALETTE]
OUTSIDE_TEXT = QColor("#a0a0a0")
ANSWER = EntityColour(QColor("#bfe8d2"), QColor("#137a4f"))       # the QA answer span
WEAK_ANSWER = EntityColour(QColor("#e3e8e5"), QColor("#7c8f85"))  # best span, "no answer" wins


def task_summary(task) -> str:
    """'classify: 4 labels', 'tag: 9 tags', ... for the title and the model bar."""
    if task.kind == "classify":
        return f"classify: {len(task.labels)} labels"
    if task.kind == "multi_label":
        return f"multi-label: {len(task.labels)} labels"
    if task.kind == "tag":
        return f"tag: {len(task.labels)} tags"
    if task.kind == "regress":
        return "regress: 1 value"
    return "qa: answer span in B"


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'I_LOC' -> ('I', 'LOC'); 'O' -> ('', 'O'); 'DATE' -> ('', 'DATE')"""
    if len(tag) > 2 and tag[0] in TAG_PREFIXES and tag[1] in "-_":
        return tag[0], tag[2:]
    return "", tag


def compact_tag(tag: str) -> str:
    """What a chip shows under itself: 'B-PER' -> 'B·PER', 'O' -> 'O'."""
    prefix, entity = split_tag(tag)
    return f"{prefix}·{entity}" if prefix else entity


def entity_types(labels: list[str]) -> list[str]:
    """The entity types of a tag set in first-seen order, without 'O'."""
    seen: list[str] = []
    for label in labels:
        entity = split_tag(label)[1]
        if entity != OUTSIDE and entity not in seen:
            seen.append(entity)
    return seen


def entity_colour(tag: str, labels: list[str]) -> EntityColour | None:
    """The colour of a tag's entity type (stable for a model: it follows the label order);
    None for 'O'."""
    entity = split_tag(tag)[1]
    entities = entity_types(labels)
    if entity not in entities:
        return None
    return ENTITY_COLOURS[entities.index(entity) % len(ENTITY_COLOURS)]


@dataclass(frozen=True)
class ChipMarks:
    """What a fine-tuned model adds to the token chips."""

    tags: list[str | None] = field(default_factory=list)  # [T] tag per token, None at [CLS]/[SEP]
    labels: list[str] = field(default_factory=list)       # the tag set, for the colours
    answer: tuple[int, int] | None = None                # first, last token of the QA span
    answer_wins: bool = True                              # False: "no answer" scores higher


NO_MARKS = ChipMarks()


def chip_marks(analysis) -> ChipMarks:
    task = analysis.task if analysis is not None else None
    if task is None:
        return NO_MARKS
    if task.kind == "tag" and task.tags is not None:
        return ChipMarks(tags=list(task.tags), labels=list(task.labels))
    if task.kind == "qa" and task.answer is not None:
        answer = task.answer
        return ChipMarks(answer=(answer.token_start, answer.token_end),
                         answer_wins=not answer.no_answer_wins)
    return NO_MARKS


def answer_chars(analysis) -> tuple[int, int, bool] | None:
    """(char_start, char_end, answer wins) of the QA answer in sentence B, or None."""
    task = analysis.task if analysis is not None else None
    if task is None or task.kind != "qa" or task.answer is None:
        return None
    answer = task.answer
    return answer.char_start, answer.char_end, not answer.no_answer_wins


def task_tooltip_lines(analysis, index: int) -> list[str]:
    """What a token's tooltip adds for a fine-tuned model: its tag, or its place in the answer."""
    task = analysis.task if analysis is not None else None
    if task is None:
        return []
    if task.kind == "tag" and task.tags and task.tags[index] is not None:
        p = float(task.probs[index].max())  # probs [T, K]: the tag is the argmax of the row
        return [f"tag: <b>{task.tags[index]}</b> ({format_percent(p)})"]
    marks = chip_marks(analysis)
    if marks.answer is not None and marks.answer[0] <= index <= marks.answer[1]:
        return ["in the answer span" if marks.answer_wins
                else "in the best span (but “no answer” scores higher)"]
    return []
