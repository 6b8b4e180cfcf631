"""A fine-tuning task's data: training features and the evaluation and test sets, read and
checked once, before any run folder exists."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.finetune import features as feats


@dataclass
class EvalSet:
    """Features to score, with what scoring needs beyond them."""
    features: list[feats.Feature]
    count: int                                   # examples (QA: questions, not windows)
    sentences: list = field(default_factory=list)   # tag: the CoNLL sentences
    word_ids: list = field(default_factory=list)    # tag: each feature's word of each token
    qa_examples: list = field(default_factory=list)
    qa_features: list = field(default_factory=list)
    version_2: bool = False                      # SQuAD 2.0: unanswerable questions exist


class TaskData:
    """``train`` features, ``labels`` (class or tag names in id order; None for regress and
    qa), and the ``eval`` / ``test`` sets (None when no file was given)."""

    def __init__(self, spec, tokenizer):
        self.spec, self.tokenizer = spec, tokenizer
        self.eval: EvalSet | None = None
        self.test: EvalSet | None = None
        {"classify": self._sequences, "regress": self._sequences, "tag": self._tagging,
         "qa": self._qa}[spec.task]()
        if not self.train:
            raise ValueError(f"{spec.train}: no training examples")

    @property
    def eval_examples(self) -> int:
        return self.eval.count if self.eval else 0

    # ----- classify / regress -----

    def _sequences(self) -> None:
        s = self.spec
        if s.glue_task:
            train, evaluated, tested = self._read_glue()
        else:
            train, evaluated, tested = self._read_tables()
        for path, examples in ((s.eval, evaluated), (s.test, tested)):
            if examples is not None and self.labels is not None:
                from engine.finetune.tables import check_labels_known

                check_labels_known(examples, self.labels, path)
        if self.labels is not None:
            _check_label_count(self.labels, s.problem, s.train)
        self.train = self._encode(train)
        self.eval = self._text_set(evaluated)
        self.test = self._text_set(tested)

    def _read_glue(self):
        from engine.finetune.glue import glue_task, read_glue

        s = self.spec
        task = glue_task(s.glue_task)
        if (task.problem == "regress") != (s.task == "regress"):
            raise ValueError(f"GLUE {task.name} is a {task.problem} task: use --task "
                             f"{'regress' if task.problem == 'regress' else 'classify'}")
        if s.test:
            raise ValueError("--test goes with --train/--eval files, not --glue-task (GLUE's "
                             "test files have no labels)")
        self.labels = list(task.labels) if task.labels else None
        return (read_glue(task.name, s.train, "train").examples,
                read_glue(task.name, s.train, "dev").examples, None)

    def _read_tables(self):
        from engine.finetune import tables

        s = self.spec
        problem = "regress" if s.task == "regress" else s.problem
        read = lambda path: tables.read_examples(  # noqa: E731
            path, text_a=s.text_a, text_b=s.text_b, label=s.label, problem=problem,
            label_separator=s.label_separator, has_header=s.has_header) if path else None
        train = read(s.train)
        self.labels = (None if problem == "regress"
                       else s.labels or tables.label_vocabulary(train, problem))
        if self.labels is not None and s.labels is not None:  # a resume: the saved labels
            tables.check_labels_known(train, self.labels, s.train)
        return train, read(s.eval), read(s.test)

    def _encode(self, examples) -> list[feats.Feature]:
        s = self.spec
        return feats.encode_text_examples(examples, self.tokenizer, s.max_seq_length,
                                          self.labels, s.problem)

    def _text_set(self, examples) -> EvalSet | None:
        return EvalSet(self._encode(examples), len(examples)) if examples else None

    # ----- tag -----

    def _tagging(self) -> None:
        from engine.finetune import conll

        s = self.spec
        sentences = conll.read_conll(s.train, s.word_column, s.tag_column)
        self.labels = s.labels or conll.tag_vocabulary(sentences)
        _check_label_count(self.labels, "tag", s.train)
        conll.check_tags_known(sentences, self.labels, s.train)
        self.train, _ = feats.encode_tagged_sentences(sentences, self.tokenizer,
                                                      s.max_seq_length, self.labels)
        self.eval = self._tag_set(s.eval)
        self.test = self._tag_set(s.test)

    def _tag_set(self, path: str | None) -> EvalSet | None:
        from engine.finetune import conll

        if not path:
            return None
        s = self.spec
        sentences = conll.read_conll(path, s.word_column, s.tag_column)
        conll.check_tags_known(sentences, self.labels, path)
        features, word_ids = feats.encode_tagged_sentences(sentences, self.tokenizer,
                                                           s.max_seq_length, self.labels)
        return EvalSet(features, len(sentences), sentences=sentences, word_ids=word_ids)

    # ----- qa -----

    def _qa(self) -> None:
        from engine.finetune import squad

        self.labels = None
        examples, _ = squad.read_squad(self.spec.train)
        self.train = _qa_features(self._windows(examples))
        self.eval = self._qa_set(self.spec.eval)
        self.test = self._qa_set(self.spec.test)

    def _windows(self, examples):
        from engine.finetune import squad

        s = self.spec
        return squad.build_features(examples, self.tokenizer, s.max_seq_length, s.doc_stride,
                                    s.max_query_length)

    def _qa_set(self, path: str | None) -> EvalSet | None:
        from engine.finetune import squad

        if not path:
            return None
        examples, version_2 = squad.read_squad(path)
        windows = self._windows(examples)
        return EvalSet(_qa_features(windows), len(examples), qa_examples=examples,
                       qa_features=windows, version_2=version_2)


def _check_label_count(labels: list[str], problem: str, path: str) -> None:
    """A head with one class learns nothing (and ``transformers`` refuses one-label
    classifiers); multi-label needs at least one class that some row has."""
    from engine.finetune.errors import FinetuneDataError

    if problem == "multi" and not labels:
        raise FinetuneDataError(path, "no row has any label: multi-label classification needs "
                                      "at least one class")
    if problem in ("single", "tag") and len(labels) < 2:
        kind = "tag" if problem == "tag" else "class"
        raise FinetuneDataError(path, f"only one {kind} ({', '.join(labels) or 'none'}): "
                                      f"{'tagging' if problem == 'tag' else 'classification'} "
                                      f"needs at least two")


def _qa_features(windows) -> list[feats.Feature]:
    return [{"input_ids": w.input_ids, "token_type_ids": w.token_type_ids,
             "start_positions": w.start_position, "end_positions": w.end_position}
            for w in windows]
