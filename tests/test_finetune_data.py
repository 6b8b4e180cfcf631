"""Fine-tuning data readers: CSV/TSV/JSONL tables, the GLUE tasks, CoNLL tagging files."""

from __future__ import annotations

import json

import pytest

from engine.finetune.conll import TaggedSentence, check_tags_known, read_conll, tag_vocabulary
from engine.finetune.errors import FinetuneDataError
from engine.finetune.glue import GLUE_TASKS, glue_task, read_glue
from engine.finetune.tables import (TextExample, check_labels_known, label_vocabulary,
                                    read_examples)


def write(path, text: str, encoding: str = "utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(FinetuneDataError) as info:
        call(*args, **kwargs)
    return str(info.value)


# ----- CSV / TSV / JSONL -----

def test_csv_with_quoted_comma_and_embedded_newline(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"good, very good",pos\n"two\nlines",neg\nbad,neg\n')
    examples = read_examples(path, "text", None, "label")
    assert examples == [TextExample("good, very good", None, "pos", 2),
                        TextExample("two\nlines", None, "neg", 3),
                        TextExample("bad", None, "neg", 5)]


def test_csv_error_line_is_where_the_record_starts(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"a\nb\nc",\n')
    message = error_of(read_examples, path, "text", None, "label")
    assert f"{path}:2:" in message and "empty label" in message


def test_csv_unbalanced_quote_is_reported(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\nfine,pos\n"never closed,neg\nmore,pos\n')
    message = error_of(read_examples, path, "text", None, "label")
    assert f"{path}:3:" in message and "never closed" in message


def test_tsv_treats_quotes_as_text_and_reads_pairs(tmp_path):
    path = write(tmp_path / "d.tsv", 'a\tb\tlabel\nhe said "hi\tok\tyes\nx\t"y\tno\n')
    examples = read_examples(path, "a", "b", "label")
    assert [(e.text_a, e.text_b, e.label, e.line) for e in examples] == [
        ('he said "hi', "ok", "yes", 2), ("x", '"y', "no", 3)]


def test_headerless_columns_by_index_and_regression(tmp_path):
    path = write(tmp_path / "d.tsv", "id1\tfirst\tsecond\t3.5\nid2\tthird\tfourth\t-1e-1\n")
    examples = read_examples(path, "1", "2", "3", problem="regress", has_header=False)
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [
        ("first", "second", 3.5), ("third", "fourth", -0.1)]
    assert all(isinstance(e.label, float) for e in examples)


def test_headerless_file_refuses_column_names(tmp_path):
    path = write(tmp_path / "d.tsv", "a\t0\n")
    message = error_of(read_examples, path, "text", None, "1", has_header=False)
    assert "no header" in message and "'text'" in message


def test_bom_is_dropped_from_the_header(tmp_path):
    path = write(tmp_path / "d.csv", "\ufefftext,label\nhello,pos\n", encoding="utf-8")
    assert read_examples(path, "text", None, "label")[0].text_a == "hello"


def test_unlabelled_file_and_blank_lines(tmp_path):
    path = write(tmp_path / "d.csv", "text\n\nhello\n\nworld\n")
    examples = read_examples(path, "text", None, None)
    assert [(e.text_a, e.label, e.line) for e in examples] == [("hello", None, 3), ("world", None, 5)]


def test_jsonl_multi_label_lists_and_strings(tmp_path):
    lines = [{"t": "a", "y": ["x", "z", "x"]}, {"t": "b", "y": "z, w"}, {"t": "c", "y": []}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    examples = read_examples(path, "t", None, "y", problem="multi")
    assert [e.label for e in examples] == [("x", "z"), ("z", "w"), ()]
    assert label_vocabulary(examples, "multi") == ["w", "x", "z"]


def test_jsonl_integer_class_names_and_numeric_regression(tmp_path):
    path = write(tmp_path / "d.ndjson", '{"t": "a", "y": 1, "s": 2}\n{"t": "b", "y": 0, "s": "0.5"}\n')
    assert [e.label for e in read_examples(path, "t", None, "y")] == ["1", "0"]
    assert [e.label for e in read_examples(path, "t", None, "s", problem="regress")] == [2.0, 0.5]


def test_csv_multi_label_separator(tmp_path):
    path = write(tmp_path / "d.csv", "text,tags\nhi,a|b\n")
    assert read_examples(path, "text", None, "tags", problem="multi",
                         label_separator="|")[0].label == ("a", "b")


def test_large_field_is_read(tmp_path):
    big = "word " * 60_000  # 300 kB: over csv's default 128 kB field limit
    path = write(tmp_path / "d.csv", f'text,label\n"{big}",pos\n')
    assert len(read_examples(path, "text", None, "label")[0].text_a) == len(big)


@pytest.mark.parametrize("name, content, line, words", [
    ("empty.csv", "", None, ["empty"]),
    ("header.csv", "text,label\n", None, ["header but no rows"]),
    ("short.csv", "text,label\nok,pos\nlonely\n", 3, ["1 field", "'label'"]),
    ("blank.csv", "text,label\nok,pos\n  ,neg\n", 3, ["empty text", "'text'"]),
    ("nolabel.tsv", "text\tlabel\nok\tpos\nok\t\n", 3, ["empty label"]),
    ("utf8.csv", b"text,label\nok,pos\nbad \xff byte,neg\n", 3, ["UTF-8", "0xff"]),
    ("broken.jsonl", '{"t": "a", "y": "p"}\n{"t": "b", "y": \n', 2, ["malformed JSON", "Expecting value"]),
    ("array.jsonl", '{"t": "a", "y": "p"}\n\n["t", "y"]\n', 3, ["array", "not an object"]),
    ("nokey.jsonl", '{"t": "a", "y": "p"}\n{"t": "b"}\n', 2, ["no key 'y'", "its keys: t"]),
])
def test_table_errors_name_file_and_line(tmp_path, name, content, line, words):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    message = error_of(read_examples, path, "t" if name.endswith("jsonl") else "text", None,
                       "y" if name.endswith("jsonl") else "label")
    assert message.startswith(f"{path}:{line}:" if line else f"{path}: ")
    for word in words:
        assert word in message


def test_regression_label_that_is_not_a_number(tmp_path):
    path = write(tmp_path / "d.csv", "text,score\na,1.5\nb,high\n")
    message = error_of(read_examples, path, "text", None, "score", problem="regress")
    assert f"{path}:3:" in message and "'high'" in message and "not a number" in message


def test_missing_column_lists_the_columns(tmp_path):
    path = write(tmp_path / "d.csv", "sentence,label\na,pos\n")
    message = error_of(read_examples, path, "text", None, "label")
    assert "no column 'text'" in message and "sentence, label" in message


@pytest.mark.parametrize("name, words", [("d.txt", [".txt", ".csv"]),
                                         ("d.xlsx", ["unknown format", ".xlsx"])])
def test_unsupported_formats(tmp_path, name, words):
    path = write(tmp_path / name, "text,label\na,b\n")
    message = error_of(read_examples, path, "text", None, "label")
    assert message.startswith(f"{path}: ") and all(word in message for word in words)


def test_missing_file(tmp_path):
    message = error_of(read_examples, tmp_path / "nope.csv", "text", None, "label")
    assert message == f"{tmp_path / 'nope.csv'}: no such file"


def test_label_vocabulary_sorts_numbers_numerically():
    examples = [TextExample("t", None, label, 1) for label in ("10", "2", "0", "2")]
    assert label_vocabulary(examples, "single") == ["0", "2", "10"]
    examples = [TextExample("t", None, label, 1) for label in ("pos", "neg", "10")]
    assert label_vocabulary(examples, "single") == ["10", "neg", "pos"]
    with pytest.raises(ValueError):
        label_vocabulary(examples, "regress")


def test_check_labels_known_names_file_line_and_label(tmp_path):
    dev = [TextExample("a", None, "pos", 2), TextExample("b", None, "maybe", 7)]
    message = error_of(check_labels_known, dev, ["neg", "pos"], tmp_path / "dev.csv")
    assert message == (f"{tmp_path / 'dev.csv'}:7: label 'maybe' never appears in the training "
                       f"file (its labels: neg, pos)")
    multi = [TextExample("a", None, ("pos", "odd"), 4)]
    assert ":4: label 'odd'" in error_of(check_labels_known, multi, ["neg", "pos"], "f.jsonl")
    check_labels_known([TextExample("a", None, 0.5, 1), TextExample("a", None, None, 2)], [], "f")


# ----- GLUE -----

GLUE_FILES = {
    "cola": ("CoLA", "dev.tsv",
             "gj04\t1\t\tOur friends won't buy this analysis.\n"
             "gj04\t0\t*\tThey drank the pub.\n", [("Our friends won't buy this analysis.", None, "1"),
                                                  ("They drank the pub.", None, "0")]),
    "sst-2": ("SST-2", "train.tsv",
              "sentence\tlabel\nhide new secretions \t0\nthe greatest \"musicians \t1\n",
              [("hide new secretions ", None, "0"), ('the greatest "musicians ', None, "1")]),
    "MRPC": ("MRPC", "dev.tsv",
             "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
             "1\t1355540\t1355592\tHe said \"yes.\tHe agreed.\n",
             [('He said "yes.', "He agreed.", "1")]),
    "STS-B": ("STS-B", "train.tsv",
              "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
              "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\t"
              "An air plane is taking off.\t5.000\n",
              [("A plane is taking off.", "An air plane is taking off.", 5.0)]),
    "qnli": ("QNLI", "dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tnot_entailment\n",
             [("What?", "This.", "not_entailment")]),
    "rte": ("RTE", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA dog.\tAn animal.\tentailment\n",
            [("A dog.", "An animal.", "entailment")]),
    "wnli": ("WNLI", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tI saw it.\tIt was seen.\t1\n",
             [("I saw it.", "It was seen.", "1")]),
}

MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\t"
               "label4\tlabel5\tgold_label\n")


@pytest.mark.parametrize("name", list(GLUE_FILES))
def test_glue_task_reads_its_real_format(tmp_path, name):
    folder_name, file_name, content, expected = GLUE_FILES[name]
    write(tmp_path / folder_name / file_name, content)
    data = read_glue(name, tmp_path / folder_name, "train" if file_name == "train.tsv" else "dev")
    assert [(e.text_a, e.text_b, e.label) for e in data.examples] == expected
    assert data.skipped_rows == 0


def test_glue_accepts_the_folder_above_the_task(tmp_path):
    write(tmp_path / "RTE" / "train.tsv", GLUE_FILES["rte"][2])
    assert len(read_glue("RTE", tmp_path, "train").examples) == 1


def test_mnli_dev_matched_and_mismatched(tmp_path):
    row = ("0\t1\t1e\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe cat sat.\tA cat sat.\t"
           + "{0}\t" * 5 + "{0}\n")
    write(tmp_path / "dev_matched.tsv", MNLI_HEADER + row.format("entailment") + row.format("neutral"))
    write(tmp_path / "dev_mismatched.tsv", MNLI_HEADER + row.format("contradiction"))
    matched = read_glue("MNLI", tmp_path, "dev").examples
    assert [(e.text_a, e.text_b, e.label) for e in matched] == [
        ("The cat sat.", "A cat sat.", "entailment"), ("The cat sat.", "A cat sat.", "neutral")]
    assert [e.label for e in read_glue("mnli", tmp_path, "dev_mismatched").examples] == ["contradiction"]


def test_qqp_skips_and_counts_broken_rows(tmp_path):
    header = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    rows = ("1\t1\t2\tHow?\tWhy?\t0\n"
            "2\t3\t4\tWhat is a\n"                  # a question broken by a stray newline
            "newline?\tWhat is that?\t1\n"
            "3\t5\t6\tWho?\tWhom?\t1\n")
    write(tmp_path / "train.tsv", header + rows)
    data = read_glue("QQP", tmp_path, "train")
    assert [(e.text_a, e.label, e.line) for e in data.examples] == [("How?", "0", 2), ("Who?", "1", 5)]
    assert data.skipped_rows == 2


def test_short_rows_are_refused_outside_qqp(tmp_path):
    write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA dog.\n")
    assert f"{tmp_path / 'train.tsv'}:2:" in error_of(read_glue, "rte", tmp_path, "train")


def test_glue_label_outside_the_task_set(tmp_path):
    write(tmp_path / "dev.tsv", "sentence\tlabel\ngood\t1\nbad\tnegative\n")
    message = error_of(read_glue, "sst2", tmp_path, "dev")
    assert f"{tmp_path / 'dev.tsv'}:3:" in message and "'negative'" in message and "0, 1" in message


def test_glue_missing_file_names_the_expected_path(tmp_path):
    message = error_of(read_glue, "cola", tmp_path, "dev")
    assert message.startswith(f"{tmp_path / 'dev.tsv'}: no such file") and "glue_data/CoLA" in message


def test_glue_task_names_and_settings():
    assert glue_task("SST-2") is glue_task("sst2") is GLUE_TASKS["sst2"]
    assert glue_task("STS-B").problem == "regress" and glue_task("sts-b").labels is None
    assert glue_task("cola").main_metric == "mcc" and glue_task("mrpc").main_metric == "f1"
    assert glue_task("qqp").metrics == ("f1", "accuracy")
    assert glue_task("stsb").metrics == ("pearson", "spearman")
    assert glue_task("mnli").dev_file == "dev_matched.tsv"
    assert glue_task("mnli").labels == ("contradiction", "entailment", "neutral")
    with pytest.raises(ValueError, match="cola, sst2"):
        glue_task("squad")
    with pytest.raises(ValueError, match="dev_mismatched"):
        read_glue("mnli", ".", "test")


# ----- CoNLL -----

CONLL = ("-DOCSTART- -X- -X- O\n\n"
         "EU NNP B-NP B-ORG\nrejects VBZ B-VP O  \n\n\n\n"
         "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
         "-DOCSTART- -X- -X- O\n"
         "BRUSSELS NNP B-NP B-LOC")   # no final newline


def test_conll_sentences_docstart_blank_lines_and_no_final_newline(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    assert read_conll(path) == [
        TaggedSentence(("EU", "rejects"), ("B-ORG", "O"), 3),
        TaggedSentence(("Peter", "Blackburn"), ("B-PER", "I-PER"), 8),
        TaggedSentence(("BRUSSELS",), ("B-LOC",), 11)]


def test_conll_crlf_and_tag_column(tmp_path):
    path = write(tmp_path / "train.txt", CONLL.replace("\n", "\r\n"))
    sentences = read_conll(path, tag_column=1)
    assert [s.tags for s in sentences] == [("NNP", "VBZ"), ("NNP", "NNP"), ("NNP",)]
    assert sentences[1].line == 8


def test_tag_vocabulary_order():
    sentences = [TaggedSentence(("a",) * 6, ("I-PER", "O", "B-PER", "B-LOC", "S-LOC", "I-LOC"), 1)]
    assert tag_vocabulary(sentences) == ["O", "B-LOC", "I-LOC", "S-LOC", "B-PER", "I-PER"]
    assert tag_vocabulary([TaggedSentence(("a", "b"), ("VB", "NN"), 1)]) == ["NN", "VB"]


def test_check_tags_known_names_the_token_line(tmp_path):
    sentences = read_conll(write(tmp_path / "dev.txt", CONLL))
    message = error_of(check_tags_known, sentences, ["O", "B-ORG", "B-PER", "B-LOC"], tmp_path / "dev.txt")
    assert message.startswith(f"{tmp_path / 'dev.txt'}:9: tag 'I-PER' never appears")


@pytest.mark.parametrize("content, line, words", [
    ("", None, ["no sentences"]),
    ("-DOCSTART- O\n\n\n", None, ["no sentences"]),
    ("EU B-ORG\nrejects\n", 2, ["1 column,", "tag column -1"]),
    ("EU\tB-ORG\n\tO\n", 2, ["empty word"]),
])
def test_conll_errors(tmp_path, content, line, words):
    path = write(tmp_path / "bad.conll", content)
    message = error_of(read_conll, path)
    assert message.startswith(f"{path}:{line}:" if line else f"{path}: ")
    assert all(word in message for word in words)


def test_conll_tag_column_past_the_line(tmp_path):
    path = write(tmp_path / "bad.conll", "EU NNP B-ORG\nrejects O\n")
    message = error_of(read_conll, path, tag_column=2)
    assert message.startswith(f"{path}:2:") and "2 columns" in message
    assert error_of(read_conll, tmp_path / "missing.conll").endswith("no such file")
