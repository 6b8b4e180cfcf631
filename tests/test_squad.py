"""Tests for engine/finetune/squad.py: reading SQuAD files, document-stride windows, answer decoding."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine.finetune.errors import FinetuneDataError
from engine.finetune.squad import (
    QAExample, QAPrediction, best_span, build_features, decode_answers, read_squad)
from engine.tokenizer import WordPieceTokenizer

REPO = Path(__file__).resolve().parents[1]
FILLER = "The committee met again in the morning and discussed the budget for the coming year. "
ANSWERS = ["Denver Broncos", "Golden Gate Bridge", "Levi's Stadium", "unbelievably quickly"]
MAX_SEQ, STRIDE, MAX_QUERY = 40, 10, 8


@pytest.fixture(scope="module")
def tok() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(REPO / "resources/models/default")  # bert-base-uncased vocab


def _long_context() -> tuple[str, dict[str, int]]:
    """About 200 word pieces, each answer phrase after a stretch of filler; phrase -> char start."""
    context, starts = "", {}
    for phrase in ANSWERS:
        context += FILLER * 2 + "It was the ("
        starts[phrase] = len(context)
        context += phrase + "). "
    return context + FILLER, starts


@pytest.fixture(scope="module")
def long_examples() -> list[QAExample]:
    context, starts = _long_context()
    examples = [QAExample(f"q{i}", f"Which thing is number {i}?", context, ((phrase, starts[phrase]),), False)
                for i, phrase in enumerate(ANSWERS)]
    return examples + [QAExample("none", "Who won?", context, (), True)]


@pytest.fixture(scope="module")
def long_features(long_examples, tok):
    return build_features(long_examples, tok, max_seq_length=MAX_SEQ, doc_stride=STRIDE, max_query_length=MAX_QUERY)


def _write(tmp_path: Path, content) -> Path:
    path = tmp_path / "squad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1), encoding="utf-8")
    return path


def _doc(qas, context="Super Bowl 50 was won by the Denver Broncos.", **top) -> dict:
    return {**top, "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


def _qa(qid="1", question="Who won?", answers=(("Denver Broncos", 29),), **extra) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers],
            **extra}


# ----- reading -----


def test_read_squad_v1(tmp_path):
    doc = _doc([_qa("1"), _qa("2", "Which game?", [("Super Bowl 50", 0), ("Super Bowl", 0)])], version="1.1")
    doc["data"].append({"title": "u", "paragraphs": [{"context": "Paris is in France.",
                                                      "qas": [_qa("3", "Where?", [("France", 12)])]}]})
    examples, version_2 = read_squad(_write(tmp_path, doc))
    assert not version_2
    assert [e.id for e in examples] == ["1", "2", "3"]
    assert examples[0] == QAExample("1", "Who won?", "Super Bowl 50 was won by the Denver Broncos.",
                                    (("Denver Broncos", 29),), False)
    assert examples[1].answers == (("Super Bowl 50", 0), ("Super Bowl", 0))
    assert examples[2].context == "Paris is in France."


def test_read_squad_v2(tmp_path):
    impossible = {"id": "2", "question": "Who lost?", "answers": [], "is_impossible": True,
                  "plausible_answers": [{"text": "Super Bowl", "answer_start": 0}]}
    examples, version_2 = read_squad(_write(tmp_path, _doc([_qa("1", is_impossible=False), impossible])))
    assert version_2
    assert examples[1] == QAExample("2", "Who lost?", examples[0].context, (), True)
    assert not examples[0].is_impossible


def test_version_field_alone_marks_v2(tmp_path):
    assert read_squad(_write(tmp_path, _doc([_qa()], version="v2.0")))[1]


def test_answer_start_off_by_a_little_is_corrected(tmp_path):
    examples, _ = read_squad(_write(tmp_path, _doc([_qa(answers=[("Denver Broncos", 31)])])))
    assert examples[0].answers == (("Denver Broncos", 29),)
    # of two occurrences the one nearest to answer_start is taken
    examples, _ = read_squad(_write(tmp_path, _doc([_qa(answers=[("cat", 7)])], context="cat dog cat")))
    assert examples[0].answers == (("cat", 8),)


ERRORS = [
    ("", "the file is empty", None),
    ("  \n\n", "the file is empty", None),
    ('{\n "data": [\n  {"paragraphs": [}\n ]\n}', "malformed JSON", 3),
    (b'{"data": []}\n\xff\n', "not UTF-8", 2),
    ({"version": "1.1"}, 'no "data" list', None),
    ([1, 2], 'no "data" list', None),
    ({"data": [{"title": "no paragraphs"}]}, r"data\[0\]: 'paragraphs' is missing", None),
    (_doc([{"question": "Who?", "answers": []}]), r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: 'id' is missing", None),
    (_doc([{"id": "7", "answers": []}]), r"qas\[0\]: 'question' is missing", None),
    (_doc([_qa("7", answers=[("Denver Broncos", 0)])]), r"qas\[0\]\.answers\[0\] \(id '7'\): .*not in the context",
     None),
    (_doc([_qa("7", answers=[("Seattle", 29)])]), r"id '7'.*'Seattle' is not in the context", None),
    (_doc([_qa("7", answers=[])]), r"id '7'.*answerable question has no answers", None),
    (_doc([_qa("7", answers=[("Denver", "29")])]), r"'answer_start' is missing or not an integer", None),
    (_doc([_qa("7"), _qa("7")]), r"qas\[1\]: question id '7' was already used at .*qas\[0\]", None),
]


@pytest.mark.parametrize("content, reason, line", ERRORS)
def test_read_squad_errors_name_file_place_and_line(tmp_path, content, reason, line):
    path = _write(tmp_path, content)
    with pytest.raises(FinetuneDataError, match=reason) as caught:
        read_squad(path)
    assert caught.value.path == str(path) and caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_missing_file(tmp_path):
    with pytest.raises(FinetuneDataError, match="no such file"):
        read_squad(tmp_path / "absent.json")


# ----- features -----


def test_feature_layout(long_examples, long_features, tok):
    question_ids, _ = tok.encode_pieces(long_examples[0].question)
    n_prefix = len(question_ids) + 2
    for feature in long_features:
        assert len(feature.input_ids) <= MAX_SEQ
        assert len(feature.input_ids) == len(feature.token_type_ids) == len(feature.context_offsets)
    first = long_features[0]
    assert first.input_ids[:n_prefix] == [tok.cls_id, *question_ids, tok.sep_id]
    assert first.input_ids[-1] == tok.sep_id
    assert first.token_type_ids == [0] * n_prefix + [1] * (len(first.input_ids) - n_prefix)
    assert first.context_offsets[:n_prefix] == [None] * n_prefix and first.context_offsets[-1] is None
    assert None not in first.context_offsets[n_prefix:-1]


def test_windows_cover_the_context_with_stride(long_examples, long_features, tok):
    _, offsets = tok.encode_pieces(long_examples[0].context)
    windows = [f for f in long_features if f.example_index == 0]
    assert len(windows) > 3
    seen = [[o for o in f.context_offsets if o is not None] for f in windows]
    assert sorted({o for window in seen for o in window}) == [tuple(o) for o in offsets]
    assert all(offsets.index(b[0]) - offsets.index(a[0]) == STRIDE for a, b in zip(seen, seen[1:]))
    assert seen[-1][-1] == tuple(offsets[-1])


def test_answer_positions_map_back_to_the_answer_text(long_examples, long_features):
    for index, example in enumerate(long_examples[:len(ANSWERS)]):
        text, char_start = example.answers[0]
        windows = [f for f in long_features if f.example_index == index]
        inside = [f for f in windows if f.start_position != 0]
        assert inside, f"no window holds {text!r}"
        for f in inside:
            span_start, span_end = f.context_offsets[f.start_position][0], f.context_offsets[f.end_position][1]
            assert (span_start, example.context[span_start:span_end]) == (char_start, text)
        # the rest of the context lies in windows without the answer: they point at [CLS]
        assert any(f.start_position == f.end_position == 0 for f in windows)


def test_answer_only_partly_in_a_window_points_at_cls(tok):
    char_start = len(FILLER * 2)
    context = FILLER * 2 + " ".join(["alpha beta gamma delta"] * 3)  # the answer: the 12 words at the end
    example = QAExample("x", "What?", context, ((context[char_start:], char_start),), False)
    features = build_features([example], tok, max_seq_length=MAX_SEQ, doc_stride=STRIDE,
                              max_query_length=MAX_QUERY)
    partly = 0
    for f in features:
        window = [o for o in f.context_offsets if o is not None]
        holds_all = window[0][0] <= char_start and window[-1][1] == len(context)
        assert (f.start_position != 0) == holds_all
        partly += window[-1][1] > char_start and not holds_all
    assert partly, "no window cut the answer: the case under test did not happen"


def test_unanswerable_points_at_cls(long_examples, long_features):
    windows = [f for f in long_features if f.example_index == len(long_examples) - 1]
    assert windows and all(f.start_position == f.end_position == 0 for f in windows)


def test_long_question_is_cut(tok):
    example = QAExample("x", "why " * 50, "short context", (), True)
    (feature,) = build_features([example], tok, max_seq_length=MAX_SEQ, doc_stride=STRIDE,
                                max_query_length=MAX_QUERY)
    assert feature.token_type_ids.count(0) == MAX_QUERY + 2


def test_empty_context_gets_one_window(tok):
    (feature,) = build_features([QAExample("x", "Who?", "", (), True)], tok)
    assert feature.context_offsets[-1] is None and feature.token_type_ids[-1] == 1
    assert [o for o in feature.context_offsets if o is not None] == []


@pytest.mark.parametrize("lengths", [dict(max_seq_length=40, doc_stride=29, max_query_length=8),
                                     dict(max_seq_length=16, doc_stride=2, max_query_length=16),
                                     dict(doc_stride=0)])
def test_stride_must_be_smaller_than_the_window(tok, lengths):
    with pytest.raises(ValueError, match="doc_stride"):
        build_features([QAExample("x", "Who?", "c", (), True)], tok, **lengths)


# ----- decoding -----

OFFSETS = [None, None, (0, 3), (4, 7), (8, 11), (12, 15), None]  # [CLS], a question token, 4 context tokens, [SEP]


def test_best_span_picks_the_highest_valid_sum():
    start = np.array([9, 9, 1, 5, 0, 0, 9.0])  # the 9s are outside the context
    end = np.array([9, 0, 0, 0, 4, 6, 9.0])
    assert best_span(start, end, OFFSETS) == (3, 5, 11.0)
    # at most 2 tokens: (3, 5) is out; (3, 4) = 5 + 4 beats (4, 5) = (5, 5) = 6
    assert best_span(start, end, OFFSETS, max_answer_length=2) == (3, 4, 9.0)


def test_best_span_never_ends_before_it_starts():
    start = np.array([0, 0, -1, 1, 0, 8, 0.0])
    end = np.array([0, 0, 8, 0, 2, 0, 0.0])
    assert best_span(start, end, OFFSETS) == (5, 5, 8.0)  # (5, 2) would sum to 16
    assert best_span(start, end, OFFSETS, n_best=1) is None  # only start 5 and end 2 are looked at


def test_best_span_ignores_padding_and_checks_lengths():
    start, end = np.zeros(10), np.zeros(10)
    start[8] = end[8] = 100  # padding positions beyond the offsets
    assert best_span(start, end, OFFSETS)[:2] == (2, 2)
    assert best_span(start, end, [None, None]) is None
    with pytest.raises(ValueError, match="logits"):
        best_span(np.zeros(3), np.zeros(3), OFFSETS)


def _logits(features, fill=-5.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    # padded to MAX_SEQ like a real batch
    return [np.full(MAX_SEQ, fill) for _ in features], [np.full(MAX_SEQ, fill) for _ in features]


def test_decode_answers_finds_the_answer_across_windows(long_examples, long_features):
    starts, ends = _logits(long_features)
    target = 1  # "Golden Gate Bridge"
    holding = [i for i, f in enumerate(long_features) if f.example_index == target and f.start_position]
    other = next(i for i, f in enumerate(long_features) if f.example_index == target and not f.start_position)
    chosen = next(i for i in holding  # the window where the answer start has most context
                  if long_features[i].max_context[long_features[i].start_position])
    window = long_features[chosen]
    starts[chosen][window.start_position] = ends[chosen][window.end_position] = 3.0  # score 6
    decoy = next(j for j, o in enumerate(long_features[other].context_offsets)
                 if o is not None and long_features[other].max_context[j])
    starts[other][decoy] = ends[other][decoy] = 2.0  # a one-token span in another window, score 4
    predictions = decode_answers(long_examples, long_features, starts, ends)
    text, char_start = long_examples[target].answers[0]
    assert predictions[f"q{target}"] == QAPrediction(text, 6.0, char_start, char_start + len(text))
    assert set(predictions) == {e.id for e in long_examples}


def test_decode_answers_v2_null_wins_above_threshold(long_examples, long_features):
    starts, ends = _logits(long_features)
    for i, f in enumerate(long_features):
        starts[i][0] = ends[i][0] = 5.0  # null score 10 in every window
        if f.example_index == 0 and f.start_position:
            starts[i][f.start_position] = ends[i][f.end_position] = 3.0  # best span 6
    assert decode_answers(long_examples, long_features, starts, ends, version_2=True)["q0"] == \
        QAPrediction("", 10.0, -1, -1)
    # 10 - 6 = 4 is not above a threshold of 5; without v2 there is no null answer at all
    assert decode_answers(long_examples, long_features, starts, ends, version_2=True,
                          null_threshold=5.0)["q0"].text == "Denver Broncos"
    assert decode_answers(long_examples, long_features, starts, ends)["q0"].text == "Denver Broncos"


def test_decode_answers_null_score_is_the_smallest_over_windows(long_examples, long_features):
    starts, ends = _logits(long_features)
    for i, f in enumerate(long_features):
        starts[i][0] = ends[i][0] = 5.0 if f.start_position == 0 else -5.0
        if f.example_index == 0 and f.start_position:
            starts[i][f.start_position] = ends[i][f.end_position] = 3.0
    # the windows holding the answer have null score -10: the span (6) wins
    assert decode_answers(long_examples, long_features, starts, ends, version_2=True)["q0"].text == "Denver Broncos"


def test_decode_answers_checks_counts(long_examples, long_features):
    starts, ends = _logits(long_features)
    with pytest.raises(ValueError, match="features"):
        decode_answers(long_examples, long_features, starts[:-1], ends)


def test_every_context_token_has_its_max_context_in_exactly_one_window(long_examples,
                                                                       long_features):
    """BERT's rule: an answer may start only in the window that gives the token most context
    (so a span cut at one window's edge cannot win over the same span inside another)."""
    for index in range(len(long_examples)):
        owners: dict[tuple[int, int], int] = {}
        for feature in (f for f in long_features if f.example_index == index):
            for offset, owned in zip(feature.context_offsets, feature.max_context):
                if offset is not None:
                    owners[offset] = owners.get(offset, 0) + owned
        assert set(owners.values()) == {1}


def test_a_span_at_a_window_edge_loses_to_the_same_span_with_more_context(long_examples,
                                                                          long_features):
    starts, ends = _logits(long_features)
    windows = [i for i, f in enumerate(long_features) if f.example_index == 1]
    first, second = long_features[windows[0]], long_features[windows[1]]
    # A context token near the end of window 0 is also in window 1, with more context there.
    shared = [j for j, o in enumerate(first.context_offsets) if o is not None][-2]
    offset = first.context_offsets[shared]
    k = second.context_offsets.index(offset)
    assert not first.max_context[shared] and second.max_context[k]
    starts[windows[0]][shared] = ends[windows[0]][shared] = 9.0  # higher, but at the edge
    starts[windows[1]][k] = ends[windows[1]][k] = 4.0
    prediction = decode_answers(long_examples, long_features, starts, ends)["q1"]
    assert (prediction.char_start, prediction.char_end) == offset and prediction.score == 8.0
