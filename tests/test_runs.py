"""``bert-engine runs`` and engine.runs against run folders written by real tiny jobs: list,
show, export, compare, delete, and the runs root the monitor shares."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import runs_root
from engine.cli import main
from engine.runlog import MetricsReader, RunFolder, RunFolderError
from engine.runs import delete_run, differing_settings, summarize
from tiny_runs import train_tiny_runs

LEARNING_RATES = {"slow": "1e-4", "fast": "1e-3"}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    return train_tiny_runs(tmp_path_factory.mktemp("tiny") / "runs", LEARNING_RATES)


@pytest.fixture
def private_config() -> Path:
    """The test's own settings folder (conftest points every test at one)."""
    return runs_root.config_dir()


def cli_json(capsys, *args: str):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def records(run_dir: Path) -> list[dict]:
    return MetricsReader(run_dir / "metrics.jsonl").read_new()


@pytest.mark.slow
def test_runs_list_names_kind_state_progress_best_heartbeat_and_host(tiny_runs, capsys):
    root = tiny_runs["slow"].parent
    listed = cli_json(capsys, "runs", "list", "--root", str(root), "--json")
    assert listed["root"] == str(root)
    by_name = {r["name"]: r for r in listed["runs"]}
    assert sorted(by_name) == sorted(LEARNING_RATES)
    for name, run in by_name.items():
        heldout = [r["mlm_acc"] for r in records(tiny_runs[name]) if r["split"] == "heldout"]
        assert len(heldout) == 3  # at steps 4, 8, 12
        assert (run["kind"], run["state"], run["step"], run["max_steps"]) == (
            "pretrain", "finished", 12, 12)
        assert run["best"]["metric"] == "mlm_acc" and run["best"]["value"] == max(heldout)
        status = RunFolder(tiny_runs[name]).read_status()
        assert run["host"] == status["host"] and 0 <= run["heartbeat_age_s"] < 600
    assert main(["runs", "list", "--root", str(root)]) == 0
    text = capsys.readouterr().out
    assert "NAME" in text and "fast" in text and "12/12" in text and "mlm_acc" in text


@pytest.mark.slow
def test_runs_list_without_root_lists_the_remembered_runs_root(tiny_runs, capsys, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cli_json(capsys, "runs", "list", "--json")["runs"] == []  # the default: none there
    runs_root.remember_runs_root(tiny_runs["slow"].parent)
    listed = cli_json(capsys, "runs", "list", "--json")
    assert sorted(r["name"] for r in listed["runs"]) == sorted(LEARNING_RATES)


@pytest.mark.slow
def test_runs_show_gives_settings_last_metrics_and_checkpoints(tiny_runs, capsys):
    shown = cli_json(capsys, "runs", "show", str(tiny_runs["fast"]), "--json")
    assert shown["settings"]["lr"] == 1e-3 and shown["settings"]["preset"] == "tiny"
    assert shown["settings"]["data"] == "<run>/data"  # the job prepared its corpus there
    assert shown["settings"]["corpus"] == [str(tiny_runs["fast"].parent.parent / "tiny.txt")]
    assert shown["checkpoints"] == [12]
    last_train = [r for r in records(tiny_runs["fast"]) if r["split"] == "train"][-1]
    assert shown["final"]["train"]["loss"] == last_train["loss"]
    by_name = cli_json(capsys, "runs", "show", "fast", "--root", str(tiny_runs["fast"].parent),
                       "--json")
    assert by_name["path"] == str(tiny_runs["fast"])
    assert main(["runs", "show", str(tiny_runs["fast"])]) == 0
    assert "lr = 0.001" in capsys.readouterr().out


@pytest.mark.slow
def test_runs_export_writes_one_row_per_record_that_parses_back_to_the_same_numbers(
        tiny_runs, tmp_path, capsys):
    out = tmp_path / "fast.csv"
    assert main(["runs", "export", str(tiny_runs["fast"]), "--csv", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    written = [r for r in records(tiny_runs["fast"]) if r["split"] != "probe"]
    assert len(rows) == len(written) and len(written) == 12 + 3
    assert list(rows[0])[:3] == ["step", "time", "split"]
    for row, record in zip(rows, written):
        assert int(row["step"]) == record["step"] and float(row["time"]) == record["time"]
        assert row["split"] == record["split"]
        for key, value in record.items():
            if key not in ("step", "time", "split"):
                assert float(row[key]) == value, key
        assert all(row[k] == "" for k in row if k not in record)


@pytest.mark.slow
def test_runs_compare_lists_exactly_the_differing_settings(tiny_runs, capsys):
    compared = cli_json(capsys, "runs", "compare", str(tiny_runs["slow"]),
                        str(tiny_runs["fast"]), "--json")
    assert compared["settings"] == {"lr": [1e-4, 1e-3]}
    assert compared["metrics"]["best"][0].startswith("mlm_acc")
    assert len(compared["metrics"]["final train loss"]) == 2
    assert main(["runs", "compare", str(tiny_runs["slow"]), str(tiny_runs["fast"])]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1].split() == ["lr", "0.0001", "0.001"]
    same = cli_json(capsys, "runs", "compare", str(tiny_runs["fast"]), str(tiny_runs["fast"]),
                    "--json")
    assert same["settings"] == {}


def test_differing_settings_counts_a_missing_setting_as_a_difference():
    assert differing_settings([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1}]) == ["b"]
    assert differing_settings([{"a": 1}, {"a": 1, "c": None}]) == ["c"]


@pytest.mark.slow
def test_delete_refuses_a_running_run_and_deletes_a_finished_one(tiny_runs, tmp_path):
    copy = Path(shutil.copytree(tiny_runs["fast"], tmp_path / "copy"))
    run = RunFolder(copy)
    run.write_status(state="running")  # a fresh heartbeat: alive
    with pytest.raises(RunFolderError, match="running"):
        delete_run(run)
    run.write_status(state="paused")
    with pytest.raises(RunFolderError, match="paused"):
        delete_run(run)
    assert copy.is_dir()
    run.write_status(state="finished")
    delete_run(run)
    assert not copy.exists() and not list(tmp_path.glob(".*copy*"))


def test_an_active_run_whose_heartbeat_stopped_counts_as_failed(tmp_path):
    run = RunFolder.create(tmp_path / "silent", {"kind": "pretrain"})
    run.write_status(state="running")
    status = json.loads(run.status_path.read_text())
    status["heartbeat"] = time.time() - 120
    run.status_path.write_text(json.dumps(status))
    summary = summarize(run)
    assert summary.state == "failed" and summary.heartbeat_age_s > 100
    assert summary.settings == {} and "JSON object" in summary.settings_error  # no job config
    delete_run(run)
    assert not run.path.exists()


def test_the_runs_root_setting_follows_xdg_and_survives_a_corrupt_file(tmp_path, monkeypatch,
                                                                        private_config):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert runs_root.runs_root() == tmp_path / "data" / "bert-explorer" / "runs"
    monkeypatch.delenv(runs_root.CONFIG_DIR_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    assert runs_root.settings_path() == tmp_path / "xdg-config" / "bert-explorer" / "settings.json"
    monkeypatch.setenv(runs_root.CONFIG_DIR_ENV, str(private_config))
    elsewhere = (tmp_path / "elsewhere").resolve()
    assert runs_root.remember_runs_root(tmp_path / "elsewhere") == elsewhere
    assert runs_root.runs_root() == elsewhere
    saved = json.loads((private_config / "settings.json").read_text())
    assert saved == {"runs_root": str((tmp_path / "elsewhere").resolve())}
    (private_config / "settings.json").write_text("{not json")
    assert runs_root.runs_root() == tmp_path / "data" / "bert-explorer" / "runs"


def test_runs_help_names_every_action_and_option(capsys):
    for args in (["runs", "--help"], ["runs", "list", "--help"], ["runs", "export", "--help"],
                 ["runs", "compare", "--help"], ["runs", "show", "--help"]):
        with pytest.raises(SystemExit):
            main(args)
        text = capsys.readouterr().out
        assert "--root" in text or "list" in text
    with pytest.raises(SystemExit):
        main(["runs", "export", "--help"])
    assert "--csv" in capsys.readouterr().out


def test_an_unknown_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["runs", "show", "nope", "--root", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_the_runs_modules_load_no_torch():
    code = ("import sys, engine.runs, engine.runs_root, engine.cli_runs\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def finetune_run(tmp_path_factory, hf_pretraining_dir) -> Path:
    """A real tiny fine-tuning job (classify pairs, a random tiny model), run as a command."""
    import finetune_synthetic as synth
    from tiny_runs import BERT_ENGINE

    folder = tmp_path_factory.mktemp("finetune")
    train = synth.write_jsonl(folder / "train.jsonl", synth.pair_rows(40, seed=1))
    dev = synth.write_jsonl(folder / "dev.jsonl", synth.pair_rows(12, seed=2))
    run = folder / "runs" / "pairs"
    done = subprocess.run([BERT_ENGINE, "finetune", "--run-dir", str(run), "--task", "classify",
                           "--model", str(hf_pretraining_dir), "--train", str(train), "--eval",
                           str(dev), "--text-b", "text_b", "--batch-size", "8", "--seq-len", "32",
                           "--max-steps", "6", "--eval-every", "2", "--lr", "1e-3",
                           "--log-every", "1", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return run


@pytest.mark.slow
def test_a_fine_tuning_run_lists_its_main_metric_best_and_its_task(finetune_run, capsys):
    listed = cli_json(capsys, "runs", "list", "--root", str(finetune_run.parent), "--json")
    (run,) = listed["runs"]
    best = RunFolder(finetune_run).read_status()["best"]
    assert run["kind"] == "finetune" and run["task"] == "classify"
    assert run["main_metric"] == "accuracy" and run["best"]["metric"] == "accuracy"
    assert (run["best"]["value"], run["best"]["step"]) == (best["value"], best["step"])
    last = [r for r in records(finetune_run) if r["split"] == "heldout"][-1]
    assert run["final"]["heldout"]["accuracy"] == last["accuracy"]
    assert run["settings"]["task"] == "classify" and run["settings"]["text_b"] == "text_b"


@pytest.mark.slow
def test_a_new_job_like_a_fine_tuning_run_has_its_command_options(finetune_run):
    from engine.runs import creating_job
    from explorer.finetune_form import FinetuneForm

    config = RunFolder(finetune_run).read_config()
    args = FinetuneForm.from_job(creating_job(config)).args()
    given = config["command"]
    for flag in ("--task", "--model", "--train", "--eval", "--text-b", "--batch-size",
                 "--seq-len", "--max-steps", "--device"):
        assert args[args.index(flag) + 1] == given[given.index(flag) + 1], flag
    assert float(args[args.index("--lr") + 1]) == 1e-3
