"""The common-knowledge probe of issue 24 (scripts/default_model/common_probe.*): its sentences,
its fixed dev/test split, its scoring, and its check against the training text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from default_model.common_probe import PROBE_TSV, ProbeError, ProbeItem, load_probe, \
    multi_token_answers, parse_probe, rank_of_answer, score, split_of  # noqa: E402
from default_model.probe_overlap import WINDOW, corpus_lines, shared_sentences  # noqa: E402

TOPICS = {"geography", "animals", "objects", "opposites", "time", "body", "food", "colours",
          "numbers", "professions"}
HEADER = "topic\tsentence\tanswers\n"


def test_the_probe_covers_every_topic_of_the_issue_with_enough_sentences():
    items = load_probe()
    assert len(items) >= 150
    assert {it.topic for it in items} == TOPICS
    assert all(sum(it.topic == t for it in items) >= 12 for t in TOPICS)
    test = [it for it in items if it.split == "test"]
    assert 0.4 <= len(test) / len(items) <= 0.6  # both halves big enough to report


def test_every_accepted_answer_is_one_token_of_the_default_vocabulary():
    vocab = set((ROOT / "resources" / "models" / "default" / "vocab.txt")
                .read_text(encoding="utf-8").split("\n"))
    assert multi_token_answers(load_probe(), vocab) == []
    item = ProbeItem("food", "Bread is made from [MASK].", ("flour", "wholemeal"))
    assert multi_token_answers([item], vocab) == [("Bread is made from [MASK].", "wholemeal")]


def test_the_split_depends_on_the_sentence_alone():
    items = load_probe()
    lines = PROBE_TSV.read_text(encoding="utf-8").splitlines()
    shuffled = parse_probe("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    assert {it.sentence: it.split for it in shuffled} == {it.sentence: it.split for it in items}
    assert split_of("Paris is the capital of [MASK].") == split_of("Paris is the capital of [MASK].")
    assert {split_of(f"Sentence number {i} has a [MASK].") for i in range(20)} == {"dev", "test"}


@pytest.mark.parametrize("body,message", [
    ("food\tBread and [MASK] and [MASK].\tbutter\n", "exactly one"),
    ("food\tBread is made from flour.\tflour\n", "exactly one"),
    ("food\tBread is made from [MASK].\tFlour\n", "lowercase"),
    ("food\tBread is made from [MASK].\t\n", "at least one"),
    ("food\tBread is made from [MASK].\n", "2 fields"),
    ("food\tBread is made from [MASK].\tflour\nfood\tBread is made from [MASK].\twheat\n", "twice"),
])
def test_a_bad_probe_line_is_refused_with_its_line_number(body, message):
    with pytest.raises(ProbeError, match=message):
        parse_probe(HEADER + body)
    with pytest.raises(ProbeError, match="header"):
        parse_probe(body)


def test_rank_is_that_of_the_first_accepted_answer():
    assert rank_of_answer(["bread", "oil", "water"], ("water", "milk")) == 3
    assert rank_of_answer(["milk", "water"], ("water", "milk")) == 1
    assert rank_of_answer(["bread", "oil"], ("water",)) is None


def test_scores_count_top1_and_top5_per_split(default_predictor):
    """Real predictions of the bundled model: an item whose answer is the model's own first
    candidate counts at top-1, one whose answer is its fourth only at top-5, one never seen
    at neither."""
    sentence = "There are seven days in a [MASK]."
    (mask,) = default_predictor.analyze(sentence, top_k=5).fill_mask
    first, fourth = mask.tokens[0], mask.tokens[3]
    # Sentences chosen so that all three fall in one split; the model's answers do not depend
    # on the trailing space.
    variants = [sentence, sentence + " ", sentence + "  ", sentence + "   ", sentence + "    "]
    same = [v for v in variants if split_of(v) == split_of(sentence)][:3]
    assert len(same) == 3
    items = [ProbeItem("time", same[0], (first,)), ProbeItem("time", same[1], (fourth,)),
             ProbeItem("time", same[2], ("zzzz",))]
    result = score(default_predictor, items)
    half = result["summary"][split_of(sentence)]
    assert half["sentences"] == 3
    assert half["top1"] == pytest.approx(1 / 3) and half["top5"] == pytest.approx(2 / 3)
    assert [r["rank"] for r in result["sentences"]] == [1, 4, None]
    assert result["sentences"][0]["top5"] == list(mask.tokens)


def test_overlap_finds_a_copied_fact_across_a_line_end_and_ignores_a_shorter_one(tmp_path):
    item = ProbeItem("geography", "The Nile is the longest river in the whole of [MASK].",
                     ("africa",))
    corpus = tmp_path / "c.txt"
    corpus.write_text("They said the Nile is the longest\nriver in the whole of Africa, "
                      "they said.\n\nThe Nile is the longest river in Egypt.\n", encoding="utf-8")
    found = shared_sentences([item], corpus_lines([corpus]), WINDOW)
    assert list(found) == [item.sentence]
    corpus.write_text("Indeed the Nile is the longest river in Egypt.\n", encoding="utf-8")
    assert shared_sentences([item], corpus_lines([corpus]), WINDOW) == {}


@pytest.mark.slow
def test_no_probe_sentence_shares_eight_words_with_the_shipped_training_text():
    files = sorted((ROOT / "resources" / "corpus").glob("*.txt.xz"))
    assert any(f.name == "wordnet.txt.xz" for f in files)
    assert shared_sentences(load_probe(), corpus_lines(files), WINDOW) == {}
