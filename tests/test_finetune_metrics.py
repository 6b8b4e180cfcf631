"""Tests for engine/finetune/metrics.py against small hand-computed cases (arithmetic in comments)."""

import math

import numpy as np
import pytest

from engine.finetune.metrics import (
    _average_ranks, accuracy, entity_scores, entity_spans, exact_match, f1_binary, f1_macro,
    matthews_corrcoef, multilabel_scores, normalize_answer, pearson, spearman, squad_scores, token_f1)
from engine.finetune.squad import QAExample

# ----- classification -----


def test_accuracy():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5  # positions 0 and 2 agree: 2/4
    assert accuracy(np.array([]), np.array([])) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        accuracy([1, 0], [1])


def test_f1_binary():
    # tp = 2 (positions 0, 4), fp = 1 (1), fn = 1 (2): F1 = 2*2 / (2*2 + 1 + 1) = 2/3
    assert f1_binary([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]) == pytest.approx(2 / 3)
    # the same counts with string labels and another positive class
    assert f1_binary(["y", "y", "n", "n", "y"], ["y", "n", "y", "n", "y"], positive="y") == pytest.approx(2 / 3)


def test_f1_binary_without_positives_is_zero():
    # no positive prediction and no positive label: 0/0, defined as 0.0 (sklearn zero_division=0)
    assert f1_binary([0, 0, 0], [0, 0, 0]) == 0.0
    assert f1_binary([0, 0], [1, 1]) == 0.0  # tp = 0, fn = 2: 0 / 2


def test_f1_macro():
    # pred [0 1 2 2], gold [0 1 1 2]
    # class 0: tp 1 fp 0 fn 0 -> 1;  class 1: tp 1 fp 0 fn 1 -> 2/3;  class 2: tp 1 fp 1 fn 0 -> 2/3
    # mean over 3 classes = (1 + 2/3 + 2/3) / 3 = 7/9; a 4th class never seen adds a 0: (7/3) / 4 = 7/12
    assert f1_macro([0, 1, 2, 2], [0, 1, 1, 2], num_labels=3) == pytest.approx(7 / 9)
    assert f1_macro([0, 1, 2, 2], [0, 1, 1, 2], num_labels=4) == pytest.approx(7 / 12)
    with pytest.raises(ValueError):
        f1_macro([0], [0], num_labels=0)


def test_mcc_binary_matches_the_two_class_formula():
    # tp 3, fn 2, tn 4, fp 1: (3*4 - 1*2) / sqrt((3+1)(3+2)(4+1)(4+2)) = 10 / sqrt(600)
    gold = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    pred = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert matthews_corrcoef(pred, gold) == pytest.approx(10 / math.sqrt(600))
    assert matthews_corrcoef(gold, gold) == 1.0
    assert matthews_corrcoef([1 - g for g in gold], gold) == -1.0


def test_mcc_three_classes():
    # gold [0 0 1 1 2 2], pred [0 1 1 1 2 0]; confusion (rows gold, cols pred):
    #   [1 1 0] / [0 2 0] / [1 0 1]   c = 4, s = 6, t = [2 2 2], p = [2 3 1]
    # numerator 4*6 - (2*2 + 3*2 + 1*2) = 12
    # denominator sqrt((36 - (4+9+1)) * (36 - (4+4+4))) = sqrt(22 * 24)
    assert matthews_corrcoef([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2]) == pytest.approx(12 / math.sqrt(528))


def test_mcc_degenerate_is_zero():
    assert matthews_corrcoef([1, 1, 1, 1], [0, 1, 0, 1]) == 0.0  # constant predictions
    assert matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1]) == 0.0  # constant gold
    assert matthews_corrcoef([], []) == 0.0


# ----- correlations -----


def test_pearson():
    # dx = [-1.5 -0.5 0.5 1.5], dy = [-3 -1 0 4]: sum dx*dy = 11, sum dx^2 = 5, sum dy^2 = 26
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(130))
    assert pearson([1, 2, 3], [6, 4, 2]) == pytest.approx(-1.0)


def test_pearson_constant_input_is_zero():
    assert pearson([3, 3, 3], [1, 2, 3]) == 0.0
    assert pearson([1], [2]) == 0.0
    assert not math.isnan(spearman([1, 1], [1, 2]))


def test_average_ranks_share_ties():
    # sorted: 5 -> 1, 10 -> 2, the three 20s take ranks 3, 4, 5 -> each 4
    assert _average_ranks(np.array([10.0, 20, 20, 20, 5])).tolist() == [2, 4, 4, 4, 1]


def test_spearman_with_ties():
    # ranks x = [1 2.5 2.5 4], y = [1 3 2 4]; both centred at 2.5:
    # dx = [-1.5 0 0 1.5], dy = [-1.5 0.5 -0.5 1.5]: sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64]) == pytest.approx(1.0)  # monotone, not linear


# ----- multi-label -----


def test_multilabel_scores():
    pred = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    gold = np.array([[1, 0, 0], [0, 1, 0]], dtype=bool)
    # label 0: tp 1 -> F1 1; label 1: tp 1 -> 1; label 2: fp 1 -> 0; macro = 2/3
    # micro: tp 2, fp 1, fn 0 -> 4 / 5; rows equal: only the second -> 1/2
    scores = multilabel_scores(pred, gold)
    assert scores == pytest.approx({"micro_f1": 0.8, "macro_f1": 2 / 3, "subset_accuracy": 0.5})


def test_multilabel_degenerate():
    assert multilabel_scores(np.zeros((0, 3), bool), np.zeros((0, 3), bool)) == {
        "micro_f1": 0.0, "macro_f1": 0.0, "subset_accuracy": 0.0}
    # nothing predicted, nothing gold: every F1 is 0/0 -> 0; every row is right -> 1
    nothing = np.zeros((2, 2), bool)
    assert multilabel_scores(nothing, nothing) == {"micro_f1": 0.0, "macro_f1": 0.0, "subset_accuracy": 1.0}
    with pytest.raises(ValueError, match="same shape"):
        multilabel_scores(np.zeros((2, 2)), np.zeros((2, 3)))


# ----- named entities -----


def test_entity_spans_iob2():
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    assert entity_spans(["B-PER", "B-PER", "I-PER"]) == {("PER", 0, 1), ("PER", 1, 3)}
    assert entity_spans(["B-PER", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 2)}  # a type change splits
    assert entity_spans(["B-MISC-X", "I-MISC-X"]) == {("MISC-X", 0, 2)}  # only the first "-" is the prefix
    assert entity_spans([]) == set()


def test_stray_inside_tag_starts_an_entity():
    # conlleval's lenient reading: I-PER after O opens an entity instead of being dropped
    assert entity_spans(["O", "I-PER", "I-PER", "B-PER"]) == {("PER", 1, 3), ("PER", 3, 4)}


def test_iob1_reads_the_same_as_iob2():
    # IOB1: I- opens an entity, B- only splits two adjacent entities of one type
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]
    expected = {("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("ORG", 5, 6)}
    assert entity_spans(iob1, scheme="IOB1") == expected
    assert entity_spans(iob1, scheme="IOB2") == expected
    # the same entities written as IOB2
    assert entity_spans(["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"], scheme="IOB2") == expected


@pytest.mark.parametrize("tags, scheme", [(["E-PER"], "IOB2"), (["PER"], "IOB2"), (["B-"], "IOB2"),
                                          (["O"], "BILOU")])
def test_entity_spans_rejects_unknown_tags_and_schemes(tags, scheme):
    with pytest.raises(ValueError):
        entity_spans(tags, scheme=scheme)


def test_entity_scores_boundary_and_type_errors():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-MISC", "O"]]
    # gold: PER 0-2, LOC 3-4, ORG 0-1; predicted: PER 0-1 (boundary), LOC 3-4 (right), MISC 0-1 (type)
    # 1 correct of 3 predicted and 3 gold: P = R = F1 = 1/3
    assert entity_scores(gold, pred) == pytest.approx(
        {"entity_precision": 1 / 3, "entity_recall": 1 / 3, "entity_f1": 1 / 3})


def test_entity_scores_missed_entity():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O"]]
    # 2 predicted, both right; 3 gold: P = 1, R = 2/3, F1 = 2 * 1 * 2/3 / (5/3) = 0.8
    assert entity_scores(gold, pred) == pytest.approx(
        {"entity_precision": 1.0, "entity_recall": 2 / 3, "entity_f1": 0.8})


def test_entity_scores_degenerate_and_mismatched():
    assert entity_scores([["O", "O"]], [["O", "O"]]) == {
        "entity_precision": 0.0, "entity_recall": 0.0, "entity_f1": 0.0}
    with pytest.raises(ValueError, match="sentence 0"):
        entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="sentences"):
        entity_scores([["O"]], [])


# ----- SQuAD -----


@pytest.mark.parametrize("raw, normalized", [
    ("The  Quick, brown fox!", "quick brown fox"),
    ("An apple a day", "apple day"),
    ("theater and another", "theater and another"),  # articles only as whole words
    ("  U.S.-based  ", "usbased"),
    ("the", ""),
])
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_exact_match():
    assert exact_match("the Eiffel Tower", ["Eiffel Tower.", "Paris"]) == 1.0
    assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0


def test_token_f1():
    # [eiffel tower in paris] vs [eiffel tower]: 2 shared, P = 2/4, R = 2/2 -> F1 = 2/3
    assert token_f1("Eiffel Tower in Paris", ["the Eiffel Tower"]) == pytest.approx(2 / 3)
    # best gold: vs [eiffel tower] P = R = 1/2 -> 1/2; vs [paris] P = 1/2, R = 1 -> 2/3
    assert token_f1("tower paris", ["eiffel tower", "paris"]) == pytest.approx(2 / 3)
    assert token_f1("Paris", ["Paris", "Paris"]) == 1.0
    assert token_f1("London", ["Paris"]) == 0.0


def test_unanswerable_scores():
    assert exact_match("", []) == 1.0 and token_f1("", []) == 1.0
    assert exact_match("Paris", []) == 0.0 and token_f1("Paris", []) == 0.0
    assert token_f1("", ["Paris"]) == 0.0
    # a gold that normalizes to nothing is dropped (v2.0 script), leaving "no answer"
    assert exact_match("", ["the"]) == 1.0 and token_f1("", ["the"]) == 1.0


def _example(qid, answers, impossible=False):
    return QAExample(qid, "q?", "context", tuple((a, 0) for a in answers), impossible)


def test_squad_scores_v1():
    examples = [_example("a", ["Denver Broncos"]), _example("b", ["Santa Clara, California"]),
                _example("c", ["Levi's Stadium"])]
    predictions = {"a": "Denver Broncos", "b": "Santa Clara"}  # "c" missing: scores 0
    # a: EM 1, F1 1; b: EM 0, F1: P = 2/2, R = 2/3 -> 0.8; c: 0, 0
    assert squad_scores(predictions, examples) == pytest.approx({"exact_match": 1 / 3, "f1": 1.8 / 3})


def test_squad_scores_v2_splits_answerable_and_not():
    examples = [_example("a", ["Denver Broncos"]), _example("b", ["Santa Clara, California"]),
                _example("c", ["Levi's Stadium"]), _example("d", [], impossible=True)]
    predictions = {"a": "Denver Broncos", "b": "Santa Clara", "c": "", "d": ""}
    # EM (1 + 0 + 0 + 1) / 4, F1 (1 + 0.8 + 0 + 1) / 4; answerable 1/3 and 1.8/3; unanswerable 1, 1
    assert squad_scores(predictions, examples) == pytest.approx({
        "exact_match": 0.5, "f1": 0.7, "has_answer_exact_match": 1 / 3, "has_answer_f1": 0.6,
        "no_answer_exact_match": 1.0, "no_answer_f1": 1.0})
    assert squad_scores({}, []) == {"exact_match": 0.0, "f1": 0.0}
