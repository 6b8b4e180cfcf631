"""explorer/metrics_store.py: full-resolution series from a metrics file that is being written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.metrics_store import RunMetrics, Series, debiased_ema


def loop_ema(values, beta):
    s, out = 0.0, []
    for t, x in enumerate(values, 1):
        s = beta * s + (1 - beta) * x
        out.append(s / (1 - beta ** t))
    return np.array(out)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.9, 0.99, 0.999])
def test_debiased_ema_matches_the_recurrence(beta):
    values = np.random.default_rng(0).normal(5.0, 2.0, 1000)
    np.testing.assert_allclose(debiased_ema(values, beta), loop_ema(values, beta), rtol=1e-9)
    assert debiased_ema(values, beta)[0] == pytest.approx(values[0])  # no pull towards 0


def test_debiased_ema_extends_incrementally():
    values = np.random.default_rng(1).normal(size=500)
    first = debiased_ema(values[:321], 0.95)
    np.testing.assert_allclose(debiased_ema(values, 0.95, start=321, previous=first),
                               loop_ema(values, 0.95), rtol=1e-9)


def test_a_resumed_run_replaces_the_steps_it_writes_again():
    s = Series()
    for step in range(1, 11):
        s.append(step, step * 10.0)
    s.append(7, -1.0)  # resumed from the step-6 checkpoint
    assert s.steps.tolist() == [1, 2, 3, 4, 5, 6, 7] and s.values[-1] == -1.0
    assert s.version == 1


def write(path, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_half_written_and_malformed_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    metrics = RunMetrics(path)
    assert metrics.poll() == 0  # no file yet
    lines = [json.dumps({"step": i, "time": i, "split": "train", "loss": 10.0 - i}) for i in range(1, 4)]
    write(path, "\n".join(lines) + "\n{not json}\n" + '{"step": 4, "split": "train", "lo')
    assert metrics.poll() == 3
    assert metrics.get("train", "loss").values.tolist() == [9.0, 8.0, 7.0]
    assert metrics.malformed == 1
    write(path, 'ss": 6.0}\n' + json.dumps({"step": 4, "split": "heldout", "mlm_acc": 0.5}) + "\n")
    assert metrics.poll() == 2  # the half line, now complete, is not lost
    assert metrics.get("train", "loss").values.tolist() == [9.0, 8.0, 7.0, 6.0]
    assert metrics.get("heldout", "mlm_acc").steps.tolist() == [4.0]
    assert metrics.malformed == 1


def test_many_points_and_probe_records(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, "".join(json.dumps({"step": i, "split": "train", "lr": i * 1e-6}) + "\n"
                        for i in range(1, 100_001)))
    write(path, json.dumps({"step": 100_000, "split": "probe",
                            "attention_entropy": [[1.0, 2.0], [0.5, 0.1]]}) + "\n")
    metrics = RunMetrics(path)
    metrics.poll()
    assert metrics.get("train", "lr").size == 100_000
    assert [p["step"] for p in metrics.probes] == [100_000]


def test_a_replaced_file_restarts_the_same_series_objects(tmp_path):
    """Plots hold Series objects: a run folder reused by a new job must refill them."""
    path = tmp_path / "metrics.jsonl"
    write(path, "".join(json.dumps({"step": s, "split": "train", "loss": 3.0}) + "\n"
                        for s in (1, 2)))
    metrics = RunMetrics(path)
    metrics.poll()
    series = metrics.get("train", "loss")
    path.unlink()
    write(path, json.dumps({"step": 1, "split": "train", "loss": 9.0}) + "\n")
    metrics.poll()
    assert metrics.get("train", "loss") is series and series.values.tolist() == [9.0]
