"""The pretraining loop: schedule, learning, exact resume, kills, stops, failures, HF export."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import CORPUS_SLICE
from engine.checkpoint import load_checkpoint
from engine.runlog import MetricsReader, RunFolder
from engine.specs import PretrainSpec, TrainConfig
from engine.train.distributed import DistributedContext
from engine.train.loop import Trainer, _Window
from engine.train.optim import lr_at, parameter_groups
from engine.train.pretraining import PretrainingTask

BERT_ENGINE = str(Path(sys.executable).with_name("bert-engine"))
CPU = DistributedContext(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
# A small, fast job: BERT-Tiny on 32-token pairs, batches of 4.
TINY_JOB = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--lr", "1e-3",
            "--log-every", "1", "--eval-batches", "2", "--device", "cpu"]


def pretrain(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run([BERT_ENGINE, "pretrain", *args], capture_output=True, text=True,
                         timeout=300, **kwargs)
    if check:
        assert run.returncode == 0, run.stderr[-3000:]
    return run


def train_records(run_dir: Path) -> dict[int, dict]:
    """step -> the LAST train record written for it (a resumed run rewrites later steps)."""
    records = {}
    for record in MetricsReader(run_dir / "metrics.jsonl").read_new():
        if record.get("split") == "train":
            records[record["step"]] = record
    return records


def test_learning_rate_warms_up_then_decays():
    assert lr_at(0, 1.0, 4, 20) == pytest.approx(0.25)
    assert lr_at(3, 1.0, 4, 20) == pytest.approx(1.0)
    assert lr_at(19, 1.0, 4, 20) == pytest.approx(0.0)
    assert lr_at(11, 1.0, 4, 20) == pytest.approx(0.5)  # linear: halfway through the decay
    assert lr_at(11, 1.0, 4, 20, "cosine") == pytest.approx(0.5)
    assert lr_at(7, 1.0, 4, 20, "cosine") > lr_at(7, 1.0, 4, 20)
    with pytest.raises(ValueError):
        lr_at(0, 1.0, 0, 10, "exponential")


def test_no_weight_decay_on_biases_and_layer_norms(prepared_slice):
    model = PretrainingTask(PretrainSpec(data=str(prepared_slice), preset="tiny")).build_model()
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.ndim == 2 for p in decay["params"])
    assert all(n.endswith("bias") or "LayerNorm" in names[id(p)]
               for p in no_decay["params"] for n in [names[id(p)]])
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == \
        sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_tiny_model_memorises_64_instances(prepared_slice, tmp_path):
    """Gradients reach every part: MLM >= 95% and NSP 100% on a fixed set within 300 steps
    (measured every 25 steps: the run stops once both hold)."""
    spec = PretrainSpec(data=str(prepared_slice), preset="tiny", max_seq_length=48,
                        batch_size=32, seed=3)
    cfg = TrainConfig(max_steps=10**6, lr=2e-3, warmup_steps=20, schedule="constant",
                      weight_decay=0.0)
    trainer = Trainer(PretrainingTask(spec), cfg, RunFolder.create(tmp_path / "run", {}), CPU)
    fixed = [next(trainer.batches) for _ in range(2)]  # 64 instances, masks fixed
    task = trainer.task

    def accuracy() -> dict[str, float]:
        trainer.model.eval()
        hits = {"mlm": 0.0, "nsp": 0.0}
        counts = {"mlm": 0.0, "nsp": 0.0}
        with torch.no_grad():
            for batch in fixed:
                _, correct = task.losses(trainer.model, batch)
                for k, n in task.denominators(batch).items():
                    hits[k] += float(correct[k])
                    counts[k] += n
        trainer.model.train()
        assert counts["nsp"] == 64
        return {k: hits[k] / counts[k] for k in hits}

    for step in range(300):
        batch = fixed[step % 2]
        trainer.train_step(trainer.model, [batch], task.denominators(batch), _Window())
        if (step + 1) % 25 == 0:
            reached = accuracy()
            if reached["mlm"] >= 0.95 and reached["nsp"] == 1.0:
                break
    assert reached["mlm"] >= 0.95, reached
    assert reached["nsp"] == 1.0, reached


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_nsp_loss_weight_decides_whether_the_nsp_head_learns(prepared_slice, tmp_path, weight):
    spec = PretrainSpec(data=str(prepared_slice), preset="tiny", max_seq_length=32,
                        batch_size=8, seed=2, nsp_loss_weight=weight)
    # No weight decay: with a zero gradient AdamW then leaves a weight exactly where it was.
    cfg = TrainConfig(max_steps=10, lr=1e-3, weight_decay=0.0)
    trainer = Trainer(PretrainingTask(spec), cfg, RunFolder.create(tmp_path / "run", {}), CPU)
    nsp_head = trainer.model.cls.seq_relationship.weight
    mlm_bias = trainer.model.cls.predictions.bias
    before = nsp_head.detach().clone(), mlm_bias.detach().clone()
    batch = next(trainer.batches)
    trainer.train_step(trainer.model, [batch], trainer.task.denominators(batch), _Window())
    assert not torch.equal(mlm_bias, before[1])
    assert torch.equal(nsp_head, before[0]) == (weight == 0.0)


@pytest.mark.slow
def test_a_weighted_nsp_loss_is_recorded_and_logged_unweighted(prepared_slice, tmp_path):
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps", "2",
             "--nsp-loss-weight", "3", *TINY_JOB)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"]["nsp_loss_weight"] == 3.0
    first = next(r for r in MetricsReader(run_dir / "metrics.jsonl").read_new()
                 if r["split"] == "train")
    assert first["loss"] == pytest.approx(first["mlm_loss"] + first["nsp_loss"])
    bad = pretrain("--run-dir", str(tmp_path / "bad"), "--data", str(prepared_slice),
                   "--max-steps", "2", "--nsp-loss-weight", "-1", *TINY_JOB, check=False)
    assert bad.returncode != 0 and "--nsp-loss-weight" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_a_near_negatives_share_outside_0_to_1_is_refused_before_any_run_folder(prepared_slice,
                                                                              tmp_path):
    bad = pretrain("--run-dir", str(tmp_path / "bad"), "--data", str(prepared_slice),
                   "--max-steps", "2", "--nsp-near-negatives", "1.5", *TINY_JOB, check=False)
    assert bad.returncode != 0 and "--nsp-near-negatives must be in [0, 1]" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_metrics_status_log_and_checkpoints_of_a_run(prepared_slice, tmp_path):
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps", "6",
             "--checkpoint-every", "2", "--keep-checkpoints", "2", *TINY_JOB)
    run = RunFolder(run_dir)
    status = run.read_status()
    assert status["state"] == "finished" and status["step"] == 6
    assert [step for step, _ in run.checkpoints()] == [4, 6]  # the last K kept
    records = MetricsReader(run.metrics_path).read_new()
    train = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc", "lr", "grad_norm",
                "tokens_per_s", "seq_per_s"):
        assert all(math.isfinite(r[key]) for r in train), key
    assert train[0]["loss"] == pytest.approx(train[0]["mlm_loss"] + train[0]["nsp_loss"])
    heldout = [r for r in records if r["split"] == "heldout"]
    assert [r["step"] for r in heldout] == [2, 4, 6] and 0 <= heldout[-1]["mlm_acc"] <= 1
    probes = [r for r in records if r["split"] == "probe"]
    entropy = probes[-1]["attention_entropy"]
    assert len(entropy) == 2 and len(entropy[0]) == 2  # tiny: 2 layers x 2 heads
    assert all(0 < h < math.log(64) for row in entropy for h in row)
    assert "finished at step 6" in "\n".join(run.log_tail(5))
    hardware = run.read_config()["hardware"]  # what the model card's stage table names
    assert hardware.endswith(f"{os.cpu_count()} cores, no GPU")


@pytest.mark.slow
def test_pretraining_checkpoint_loads_into_transformers(prepared_slice, tmp_path):
    import transformers

    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps", "2",
             *TINY_JOB)
    _, folder = RunFolder(run_dir).latest_checkpoint()
    ours = load_checkpoint(folder).model
    hf = transformers.BertForPreTraining.from_pretrained(folder, attn_implementation="eager",
                                                         dtype=torch.float32).eval()
    ids = torch.tensor([[2, 1996, 4937, 103, 2006, 3, 2009, 2001, 3]])
    types = torch.tensor([[0] * 6 + [1] * 3])
    with torch.no_grad():
        a, b = ours(ids, token_type_ids=types), hf(input_ids=ids, token_type_ids=types)
    assert (a.prediction_logits - b.prediction_logits).abs().max() <= 1e-5
    assert (a.seq_relationship_logits - b.seq_relationship_logits).abs().max() <= 1e-5


def wait_for_checkpoint(run_dir: Path, step: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while not (run_dir / "checkpoints" / f"step-{step}" / "COMPLETE").exists():
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)


@pytest.mark.slow
def test_resume_after_sigkill_continues_bitwise(prepared_slice, tmp_path):
    job = ["--data", str(prepared_slice), "--max-steps", "8", "--checkpoint-every", "4",
           *TINY_JOB]
    straight = tmp_path / "straight"
    pretrain("--run-dir", str(straight), *job)
    killed = tmp_path / "killed"
    process = subprocess.Popen([BERT_ENGINE, "pretrain", "--run-dir", str(killed), *job],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(killed, 4, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert RunFolder(killed).read_status()["state"] == "running"  # as the kill left it
    RunFolder(killed).request_stop("pause")  # left over from before the kill: must not stop us
    pretrain("--resume", str(killed))
    a, b = train_records(straight), train_records(killed)
    assert sorted(b) == list(range(1, 9))
    for step in range(5, 9):  # bitwise: the same floats after the resume
        assert b[step]["loss"] == a[step]["loss"], step
        assert b[step]["grad_norm"] == a[step]["grad_norm"], step
    assert RunFolder(killed).read_status()["state"] == "finished"


@pytest.mark.slow
def test_kill_while_checkpointing_leaves_a_resumable_checkpoint(prepared_slice, tmp_path):
    """Checkpoint every step, kill at an arbitrary moment: whatever is left loads and resumes."""
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [BERT_ENGINE, "pretrain", "--run-dir", str(run_dir), "--data", str(prepared_slice),
         "--max-steps", "400", "--checkpoint-every", "1", "--keep-checkpoints", "2", *TINY_JOB],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(run_dir, 3, process)
    time.sleep(0.37)  # most of each step is spent writing the checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    run = RunFolder(run_dir)
    step, folder = run.latest_checkpoint()
    assert step >= 3
    assert load_checkpoint(folder).architecture == "BertForPreTraining"
    pretrain("--resume", str(run_dir), "--max-steps", str(step + 2))
    assert run.read_status()["state"] == "finished"
    assert run.latest_checkpoint()[0] == step + 2


@pytest.mark.slow
def test_stop_request_pauses_with_a_checkpoint_and_resume_continues(prepared_slice, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [BERT_ENGINE, "pretrain", "--run-dir", str(run_dir), "--data", str(prepared_slice),
         "--max-steps", "100000", "--checkpoint-every", "100000", *TINY_JOB],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run = RunFolder(run_dir)
    deadline = time.monotonic() + 120
    while not (run.read_status() or {}).get("step"):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    run.request_stop("pause")
    assert process.wait(timeout=120) == 0
    status = run.read_status()
    assert status["state"] == "paused"
    paused_at = status["step"]
    assert run.latest_checkpoint()[0] == paused_at
    assert run.stop_requested() is None
    pretrain("--resume", str(run_dir), "--max-steps", str(paused_at + 2))
    assert run.read_status()["state"] == "finished"
    assert max(train_records(run_dir)) == paused_at + 2
    assert run.read_config()["train"]["max_steps"] == paused_at + 2  # kept for later resumes


@pytest.mark.slow
def test_non_finite_loss_fails_clearly_and_keeps_the_last_good_checkpoint(prepared_slice,
                                                                          tmp_path):
    run_dir = tmp_path / "run"
    result = pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice),
                      "--max-steps", "60", "--checkpoint-every", "1", "--preset", "tiny",
                      "--seq-len", "32", "--batch-size", "4", "--lr", "1e12",
                      "--warmup-steps", "0", "--device", "cpu", "--eval-batches", "1",
                      check=False)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "non-finite" in result.stderr and "Traceback" not in result.stderr
    run = RunFolder(run_dir)
    status = run.read_status()
    assert status["state"] == "failed" and "non-finite" in status["error"]
    step, folder = run.latest_checkpoint()
    model = load_checkpoint(folder).model
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert step < status["step"] + 1


@pytest.mark.slow
def test_evaluate_command_reports_heldout_accuracy(prepared_slice, tmp_path):
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps", "2",
             *TINY_JOB)
    _, folder = RunFolder(run_dir).latest_checkpoint()
    out = subprocess.run([BERT_ENGINE, "evaluate", "--model", str(folder), "--data",
                          str(prepared_slice), "--seq-len", "32", "--batches", "3",
                          "--batch-size", "8", "--json"], capture_output=True, text=True,
                         check=True)
    scores = json.loads(out.stdout)
    assert scores["pairs"] == 24 and scores["masked_tokens"] > 24
    assert 0 <= scores["mlm_acc"] <= 1 and 0 <= scores["nsp_acc"] <= 1
    by_class = sorted((scores["nsp_isnext_acc"], scores["nsp_notnext_acc"]))
    assert by_class[0] <= scores["nsp_acc"] <= by_class[1]  # the pairs' mean lies between


@pytest.mark.parametrize("says, isnext_acc, notnext_acc", [(0, 1.0, 0.0), (1, 0.0, 1.0)])
def test_heldout_nsp_accuracy_per_class_shows_a_model_that_always_says_one_thing(
        prepared_slice, says, isnext_acc, notnext_acc):
    from engine.config import BertConfig
    from engine.data.shards import TokenizedCorpus
    from engine.model import BertForPreTraining
    from engine.train.pretraining import evaluate_pretraining

    corpus = TokenizedCorpus(prepared_slice, "heldout")
    model = BertForPreTraining(BertConfig.preset("tiny", vocab_size=corpus.vocab_size))
    with torch.no_grad():  # the NSP head answers `says` whatever the pair
        model.cls.seq_relationship.weight.zero_()
        model.cls.seq_relationship.bias.copy_(torch.tensor([10.0, -10.0]) * (1 - 2 * says))
    scores = evaluate_pretraining(model, corpus, corpus.tokenizer().mask_id, 32, 8, 4,
                                  torch.device("cpu"))
    assert (scores["nsp_isnext_acc"], scores["nsp_notnext_acc"]) == (isnext_acc, notnext_acc)
    assert 0.3 < scores["nsp_acc"] < 0.7  # about half the pairs are IsNext


@pytest.mark.slow
def test_new_run_refuses_an_existing_run_folder_and_bad_options(prepared_slice, tmp_path):
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps", "1",
             *TINY_JOB)
    again = pretrain("--run-dir", str(run_dir), "--data", str(prepared_slice), "--max-steps",
                     "1", *TINY_JOB, check=False)
    assert again.returncode == 2 and "config.json" in again.stderr
    bad = pretrain("--run-dir", str(tmp_path / "r2"), "--data", str(tmp_path / "nowhere"),
                   "--max-steps", "1", *TINY_JOB, check=False)
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr
    heads = pretrain("--run-dir", str(tmp_path / "r3"), "--data", str(prepared_slice),
                     "--max-steps", "1", "--hidden", "100", "--heads", "3", *TINY_JOB,
                     check=False)
    assert heads.returncode == 2 and "multiple" in heads.stderr


@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process_with_the_global_batch(prepared_slice, tmp_path):
    """gloo on CPU: 2 ranks x batch 2 give the weights of 1 process x batch 4 (dropout off),
    and both ranks end identical."""
    # fp32: --precision auto means bf16 autocast on a CPU with AVX-512 BF16, whose rounding
    # differs between one batch of 4 and two of 2 by more than this test's 1e-5.
    job = ["--data", str(prepared_slice), "--max-steps", "3", "--checkpoint-every", "3",
           "--preset", "tiny", "--seq-len", "32", "--lr", "1e-3", "--dropout", "0",
           "--eval-batches", "1", "--device", "cpu", "--precision", "fp32"]
    single = tmp_path / "single"
    pretrain("--run-dir", str(single), "--batch-size", "4", *job)
    ddp = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    run = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m",
                          "engine.cli", "pretrain", "--run-dir", str(ddp), "--batch-size", "2",
                          *job], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "weights identical on 2 ranks" in "\n".join(RunFolder(ddp).log_tail(10))
    a = load_checkpoint(RunFolder(single).latest_checkpoint()[1]).model.state_dict()
    b = load_checkpoint(RunFolder(ddp).latest_checkpoint()[1]).model.state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5
    losses = [train_records(d)[3]["loss"] for d in (single, ddp)]
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)


@pytest.mark.slow
def test_train_tokenizer_then_prepare_from_compressed_text(tmp_path):
    import lzma

    from engine.data.shards import TokenizedCorpus

    text = CORPUS_SLICE.read_bytes()[:300_000].rsplit(b"\n\n", 1)[0]
    source = tmp_path / "part.txt.xz"
    source.write_bytes(lzma.compress(text))
    engine = [str(Path(sys.executable).with_name("bert-engine"))]
    subprocess.run(engine + ["train-tokenizer", str(source), "--out", str(tmp_path / "vocab"),
                             "--vocab-size", "3000"], check=True, capture_output=True)
    prepared = subprocess.run(engine + ["prepare", str(source), "--tokenizer",
                                        str(tmp_path / "vocab"), "--out", str(tmp_path / "data"),
                                        "--heldout-fraction", "0.1"],
                              check=True, capture_output=True, text=True)
    report = json.loads(prepared.stdout)
    train = TokenizedCorpus(tmp_path / "data", "train")
    assert report["vocab_size"] == train.vocab_size <= 3000
    assert report["documents"]["train"] == train.num_documents > 10
    assert report["documents"]["heldout"] > 0
    assert train.tokenizer().encode("the end").tokens[1:-1] == ["the", "end"]


def test_an_unexpected_error_marks_the_run_failed_not_running(prepared_slice, tmp_path):
    class Broken(PretrainingTask):
        def losses(self, model, batch):
            raise OSError("No space left on device")

    spec = PretrainSpec(data=str(prepared_slice), preset="tiny", max_seq_length=32,
                        batch_size=4)
    run = RunFolder.create(tmp_path / "run", {})
    trainer = Trainer(Broken(spec), TrainConfig(max_steps=3), run, CPU)
    with pytest.raises(OSError):
        trainer.train()
    status = run.read_status()
    assert status["state"] == "failed" and "No space left" in status["error"]


@pytest.mark.slow
def test_heartbeat_continues_through_a_step_longer_than_its_period(prepared_slice, tmp_path):
    """A monitor marks a job failed when its heartbeat is stale: a slow step must not look dead."""
    spec = PretrainSpec(data=str(prepared_slice), preset="tiny", max_seq_length=32, batch_size=4)
    cfg = TrainConfig(max_steps=2, lr=1e-3, checkpoint_every=100, heartbeat_seconds=0.05)
    run = RunFolder.create(tmp_path / "run", {})
    trainer = Trainer(PretrainingTask(spec), cfg, run, CPU)
    beats: list[float] = []
    losses = trainer.task.losses

    def slow_losses(model, batch):
        for _ in range(10):  # 0.5 s in a step: ten heartbeat periods
            time.sleep(0.05)
            beats.append(run.read_status()["heartbeat"])
        return losses(model, batch)

    trainer.task.losses = slow_losses
    assert trainer.train() == "finished"
    assert len(set(beats)) >= 10  # refreshed while the step ran, not only between steps
    assert run.read_status()["state"] == "finished"
    time.sleep(0.2)
    assert run.read_status()["state"] == "finished"  # the stopped heartbeat wrote nothing back


@pytest.mark.slow
def test_a_corpus_job_trains_its_tokenizer_prepares_and_trains(tmp_path):
    """What the New job dialog starts: raw text in, everything else inside the run folder."""
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--corpus", str(CORPUS_SLICE), "--vocab-size", "2000",
             "--heldout-fraction", "0.05", "--max-steps", "2", *TINY_JOB)
    run = RunFolder(run_dir)
    assert run.read_status()["state"] == "finished" and run.read_status()["message"] is None
    assert (run_dir / "tokenizer" / "vocab.txt").is_file()
    _, folder = run.latest_checkpoint()
    loaded = load_checkpoint(folder)
    assert loaded.config.vocab_size == loaded.tokenizer.vocab_size <= 2000
    assert any("held-out" in line for line in run.log_tail())
    assert any(r.get("split") == "heldout" for r in MetricsReader(run.metrics_path).read_new())


@pytest.mark.slow
def test_a_corpus_job_checks_its_inputs_before_creating_anything(tmp_path):
    bad = pretrain("--run-dir", str(tmp_path / "r1"), "--corpus", str(tmp_path / "missing.txt"),
                   "--max-steps", "1", *TINY_JOB, check=False)
    assert bad.returncode == 2 and "missing.txt" in bad.stderr
    heads = pretrain("--run-dir", str(tmp_path / "r2"), "--corpus", str(CORPUS_SLICE),
                     "--hidden", "100", "--heads", "3", "--max-steps", "1", *TINY_JOB,
                     check=False)
    assert heads.returncode == 2 and "multiple" in heads.stderr
    both = pretrain("--run-dir", str(tmp_path / "r3"), "--corpus", str(CORPUS_SLICE), "--data",
                    str(tmp_path), "--max-steps", "1", *TINY_JOB, check=False)
    assert both.returncode == 2 and "either" in both.stderr
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3"))



@pytest.mark.slow
def test_a_one_document_heldout_split_trains_without_evaluation(tmp_path, vocab_file):
    """NSP needs two documents; a tiny corpus that holds out one must still train."""
    from engine.data.shards import prepare_corpus
    from engine.tokenizer import WordPieceTokenizer

    (tmp_path / "train.txt").write_text(CORPUS_SLICE.read_text(encoding="utf-8")[:60_000],
                                        encoding="utf-8")
    (tmp_path / "held.txt").write_text("One held-out sentence.\nAnd its neighbour.\n",
                                       encoding="utf-8")
    prepare_corpus([tmp_path / "train.txt"], WordPieceTokenizer.from_file(vocab_file),
                   tmp_path / "data", heldout_inputs=[tmp_path / "held.txt"])
    run_dir = tmp_path / "run"
    pretrain("--run-dir", str(run_dir), "--data", str(tmp_path / "data"), "--max-steps", "2",
             "--checkpoint-every", "1", *TINY_JOB)
    run = RunFolder(run_dir)
    assert run.read_status()["state"] == "finished"
    assert any("no held-out evaluation" in line for line in run.log_tail())


@pytest.mark.slow
def test_a_stop_asked_for_while_the_data_is_prepared_is_honoured(tmp_path):
    """A pause clicked before training starts must not be lost: the job stops at step 0."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    RunFolder(run_dir).request_stop("pause")  # present before the job even starts
    proc = pretrain("--run-dir", str(run_dir), "--corpus", str(CORPUS_SLICE), "--vocab-size",
                    "1000", "--max-steps", "2", *TINY_JOB)
    run = RunFolder(run_dir)
    status = run.read_status()
    assert status["state"] == "paused" and status["step"] == 0 and "pid" in status
    assert run.latest_checkpoint() is None and run.stop_requested() is None
    assert "paused at step 0" in proc.stdout
    pretrain("--resume", str(run_dir))
    assert run.read_status()["state"] == "finished" and run.latest_checkpoint()[0] == 2
