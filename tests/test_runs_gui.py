"""The monitor beyond TensorBoard (issue 23), against run folders written by real tiny jobs:
time axes, log scales and legends, the runs table (settings that differ, sorting, filter, names
and tags), delete, CSV and PNG export, a new job from a run, the entropy map's notice, ETA and
throughput, and the runs root the monitor shares with ``bert-engine runs``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine import runs_root
from engine.runlog import RunFolder
from explorer.jobs import JobManager
from explorer.monitor_window import MonitorWindow
from explorer.new_job_dialog import NewJobDialog
from test_monitor import open_monitor, write_status

pytestmark = pytest.mark.usefixtures("qapp")

THREE_RATES = {"lr-1e-4": "1e-4", "lr-3e-4": "3e-4", "lr-1e-3": "1e-3"}


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> dict[str, Path]:
    """Three finished tiny pretraining runs, alike but their learning rate (real jobs)."""
    from tiny_runs import train_tiny_runs

    return train_tiny_runs(tmp_path_factory.mktemp("three") / "runs", THREE_RATES)


def metrics_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in
            (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def monitor_on(qtbot, root: Path, settings, paths: list[Path]) -> MonitorWindow:
    monitor = open_monitor(qtbot, root, settings)
    monitor.table.select_paths([str(p) for p in paths])
    monitor.poll()
    return monitor


@pytest.mark.slow
def test_time_axes_carry_the_records_times(qtbot, three_runs, settings):
    run = three_runs["lr-1e-3"]
    monitor = monitor_on(qtbot, run.parent, settings, [run])
    plots = monitor.plots
    plots.smoothing.setValue(0)
    train = [r for r in metrics_records(run) if r["split"] == "train"]
    first = metrics_records(run)[0]["time"]
    assert plots.curve_points("lr-1e-3", "train", "mlm_loss")[1] == [r["step"] for r in train]
    plots.set_x_axis("absolute")
    _, x, values = plots.curve_points("lr-1e-3", "train", "mlm_loss")
    assert x == [r["time"] for r in train] and values == [r["mlm_loss"] for r in train]
    assert plots.plots["Loss"].getAxis("bottom").labelText == "time"
    plots.set_x_axis("relative")
    _, x, _ = plots.curve_points("lr-1e-3", "train", "mlm_loss")
    assert x == [r["time"] - first for r in train]
    heldout = [r for r in metrics_records(run) if r["split"] == "heldout"]
    assert plots.curve_points("lr-1e-3", "heldout", "mlm_acc")[1] == [
        r["time"] - first for r in heldout]
    monitor.close()


@pytest.mark.slow
def test_log_scale_per_plot_legends_under_the_plots_and_wrapped_log_lines(qtbot, three_runs,
                                                                           settings):
    monitor = monitor_on(qtbot, three_runs["lr-1e-4"].parent, settings, list(three_runs.values()))
    plots = monitor.plots
    assert plots.log_y("Grad norm") and not plots.log_y("Loss")  # the defaults
    plots.set_log_y("Loss", True)
    plots.set_log_y("Grad norm", False)
    assert plots.plots["Loss"].ctrl.logYCheck.isChecked()
    assert not plots.plots["Grad norm"].ctrl.logYCheck.isChecked()
    train = [r for r in metrics_records(three_runs["lr-1e-4"]) if r["split"] == "train"]
    plots.smoothing.setValue(0)
    _, _, values = plots.curve_points("lr-1e-4", "train", "mlm_loss")
    assert values == pytest.approx([r["mlm_loss"] for r in train])  # log scale, same numbers
    legend = plots.legend_labels["Loss"]  # under the plot: each series once, runs by colour
    assert legend.isVisible() and legend.text().count("mlm_loss") == 2  # train and held-out
    assert all(name in plots.run_legend.text() for name in THREE_RATES)
    plots.legends.setChecked(False)
    assert not legend.isVisible() and not plots.run_legend.isVisible()
    assert monitor.log.lineWrapMode() == monitor.log.LineWrapMode.WidgetWidth
    monitor.close()


def test_a_log_axis_over_less_than_a_decade_keeps_two_labelled_ticks(qtbot):
    import math

    from explorer.widgets.plot_axes import LogAxis

    axis = LogAxis("left")
    axis.setLogMode(False, True)
    low, high = math.log10(0.8), math.log10(1.3)  # a grad norm that barely moves
    ticks = [v for _spacing, values in axis.tickValues(low, high, 200) for v in values]
    labels = [t for t in axis.tickStrings(ticks, 1.0, None) if t]
    assert len(labels) >= 2 and all(low <= v <= high for v in ticks)
    assert {"0.8", "0.9", "1", "1.1", "1.2", "1.3"} & set(labels)


@pytest.mark.slow
def test_the_runs_table_highlights_differing_settings_sorts_and_filters(qtbot, three_runs,
                                                                          settings):
    from explorer.widgets.runs_table import DIFFERS_BACKGROUND

    root = three_runs["lr-1e-4"].parent
    monitor = open_monitor(qtbot, root, settings)
    monitor.tabs.setCurrentWidget(monitor.runs_table)
    table = monitor.runs_table
    assert sorted(map(Path, table.visible_paths())) == sorted(three_runs.values())
    names = table.column_names()
    assert names.index("lr") < names.index("preset")  # the differing setting first
    assert table.runs.differing == {"lr"}
    lr = names.index("lr")
    assert table.runs.headerData(lr, Qt.Horizontal, Qt.BackgroundRole) == DIFFERS_BACKGROUND
    assert table.runs.headerData(names.index("preset"), Qt.Horizontal, Qt.BackgroundRole) is None
    table.sortByColumn(lr, Qt.DescendingOrder)
    assert [Path(p).name for p in table.visible_paths()] == ["lr-1e-3", "lr-3e-4", "lr-1e-4"]
    for name, run in three_runs.items():
        heldout = [r for r in metrics_records(run) if r["split"] == "heldout"]
        best = max(heldout, key=lambda r: r["mlm_acc"])  # the first of equals, as the table
        assert table.cell_text(str(run), "Best") == f"mlm_acc {best['mlm_acc']:.4f} @ " \
                                                    f"{best['step']:,}"
        assert table.cell_text(str(run), "Step") == "12/12"
    monitor.filter.setText(r"1e-(3|4)$")
    assert sorted(Path(p).name for p in table.visible_paths()) == ["lr-1e-3", "lr-1e-4"]
    assert sum(not monitor.table.isRowHidden(r) for r in range(monitor.table.rowCount())) == 2
    monitor.filter.setText("")
    monitor.close()


@pytest.mark.slow
def test_display_names_and_tags_live_in_the_app_settings_not_the_run_folder(qtbot, three_runs,
                                                                             settings):
    run = three_runs["lr-3e-4"]
    before = sorted(p.name for p in run.iterdir())
    monitor = open_monitor(qtbot, run.parent, settings)
    monitor.tabs.setCurrentWidget(monitor.runs_table)
    table = monitor.runs_table
    row = next(r for r in range(table.proxy.rowCount())
               if table.proxy.index(r, 0).data(Qt.ToolTipRole) == str(run))
    names = table.column_names()
    table.proxy.setData(table.proxy.index(row, names.index("Name")), "middle rate")
    table.proxy.setData(table.proxy.index(row, names.index("Tags")), "sweep, keep ,sweep")
    assert table.cell_text(str(run), "Name") == "middle rate"
    assert table.cell_text(str(run), "Tags") == "sweep, keep"
    monitor.filter.setText("keep")
    assert table.visible_paths() == [str(run)]
    monitor.filter.setText("")
    monitor.close()
    assert sorted(p.name for p in run.iterdir()) == before
    again = open_monitor(qtbot, run.parent, settings)  # remembered by the app
    again.table.select_paths([str(run)])
    again.poll()
    assert "middle rate" in again.summary.text()
    assert ("middle rate", "train", "mlm_loss") in again.plots.point_counts()
    again.close()


def copy_run(source: Path, target: Path, **status) -> RunFolder:
    import shutil

    run = RunFolder(shutil.copytree(source, target))
    write_status(run, heartbeat=time.time(), **status)
    return run


@pytest.mark.slow
def test_delete_asks_first_and_refuses_a_running_run(qtbot, three_runs, tmp_path, settings):
    root = tmp_path / "runs"
    running = copy_run(three_runs["lr-1e-4"], root / "running", state="running",
                       host="elsewhere")  # a live job on another machine
    done = copy_run(three_runs["lr-1e-3"], root / "done", state="finished")
    monitor = open_monitor(qtbot, root, settings)
    asked: list[str] = []
    monitor.confirm = lambda title, text: asked.append(text) or False

    monitor.table.select_paths([str(running.path)])
    monitor.poll()
    assert monitor.table.state_of(str(running.path)) == "running"
    assert not monitor.delete_action.isEnabled()
    monitor.delete_selected()
    assert running.path.is_dir() and asked == []
    assert "running" in monitor.statusBar().currentMessage()

    monitor.table.select_paths([str(done.path)])
    monitor.poll()
    assert monitor.delete_action.isEnabled()
    monitor.delete_selected()  # asked, and the answer is no
    assert done.path.is_dir() and "done" in asked[0]
    monitor.confirm = lambda title, text: True
    monitor.delete_selected()
    assert not done.path.exists() and monitor.table.state_of(str(done.path)) is None
    assert monitor.table.state_of(str(running.path)) == "running"
    monitor.close()


@pytest.mark.slow
def test_csv_of_the_selected_runs_has_one_row_per_record_and_plots_save_as_2x_png(
        qtbot, three_runs, tmp_path, settings):
    import csv

    from PySide6.QtGui import QImage

    runs = [three_runs["lr-1e-4"], three_runs["lr-1e-3"]]
    monitor = monitor_on(qtbot, runs[0].parent, settings, runs)
    out = tmp_path / "two.csv"
    monitor.export_csv_to(str(out))
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    in_row_order = [Path(p) for p in monitor.selected_paths()]
    assert sorted(in_row_order) == sorted(runs)
    expected = [(run.name, r) for run in in_row_order for r in metrics_records(run)
                if r["split"] != "probe"]
    assert len(rows) == len(expected)
    assert list(rows[0])[:4] == ["run", "step", "time", "split"]
    for row, (name, record) in zip(rows, expected):
        assert row["run"] == name and int(row["step"]) == record["step"]
        assert float(row["time"]) == record["time"] and row["split"] == record["split"]
        assert all(float(row[k]) == v for k, v in record.items()
                   if k not in ("step", "time", "split"))
    files = monitor.plots.save_pngs(tmp_path / "png")
    assert sorted(f.name for f in files) == sorted(
        ["loss.png", "accuracy.png", "learning-rate.png", "grad-norm.png",
         "throughput-sequences-s.png"])
    image = QImage(str(tmp_path / "png" / "loss.png"))
    holder = monitor.plots._cell_widgets[0]
    assert (image.width(), image.height()) == (2 * holder.width(), 2 * holder.height())
    monitor.close()


@pytest.mark.slow
def test_new_job_from_a_run_fills_the_dialog_with_its_settings_and_it_remembers(
        qtbot, three_runs, settings):
    run = three_runs["lr-3e-4"]
    monitor = monitor_on(qtbot, run.parent, settings, [run])
    assert monitor.clone_action.isEnabled()
    dialog = monitor.dialog_from_run(RunFolder(run))
    qtbot.addWidget(dialog)
    args = dialog.command_args()
    given = RunFolder(run).read_config()["command"]
    for flag in ("--corpus", "--vocab-size", "--preset", "--seq-len", "--batch-size",
                 "--max-steps", "--log-every", "--heldout-fraction", "--device"):
        assert args[args.index(flag) + 1] == given[given.index(flag) + 1], flag
    assert float(args[args.index("--lr") + 1]) == 3e-4
    assert Path(args[args.index("--run-dir") + 1]).name == "lr-3e-4-2"  # a fresh folder
    dialog._try_start()
    assert dialog.result() == NewJobDialog.Accepted
    dialog.close()
    fresh = NewJobDialog(run.parent, monitor.manager.new_run_dir, settings=settings)
    qtbot.addWidget(fresh)
    assert fresh.current_form().args() == dialog.form.args()  # opens on the last job's values
    fresh.close()
    monitor.close()


@pytest.mark.slow
def test_the_entropy_map_of_a_run_without_records_shows_the_notice(qtbot, three_runs, tmp_path,
                                                                  settings):
    from explorer.widgets.entropy_map import NO_RECORDS

    empty = RunFolder.create(tmp_path / "runs" / "empty", {"kind": "pretrain"})
    write_status(empty, state="finished", heartbeat=time.time())
    monitor = monitor_on(qtbot, tmp_path / "runs", settings, [three_runs["lr-1e-3"]])
    monitor.add_run_path(str(three_runs["lr-1e-3"]))
    monitor.table.select_paths([str(three_runs["lr-1e-3"])])
    monitor.poll()
    assert monitor.entropy.shown_step == 12 and "mean" in monitor.entropy.caption.text()
    monitor.table.select_paths([str(empty.path)])
    monitor.poll()
    view = monitor.entropy.view.getPlotItem().getViewBox()
    assert monitor.entropy.caption.text() == NO_RECORDS and monitor.entropy.shown_step is None
    (x_low, x_high), (y_low, y_high) = view.viewRange()
    assert -1 <= x_low and x_high <= 2 and -1 <= y_low and y_high <= 2  # not -400..400
    monitor.close()


@pytest.mark.slow
def test_the_monitor_and_bert_engine_runs_list_the_same_runs_root(qtbot, three_runs, settings,
                                                                  capsys):
    from engine.cli import main

    root = three_runs["lr-1e-4"].parent
    settings.setValue("jobs/runs_root", str(root))  # as an older version remembered it
    manager = JobManager.from_settings(settings)
    assert manager.runs_root == root.resolve() and settings.value("jobs/runs_root") is None
    assert main(["runs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["path"] for r in listed["runs"]) == sorted(
        str(r.path) for r in manager.runs())
    other = JobManager.from_settings(settings, runs_root=root / "elsewhere")  # --runs-root
    assert runs_root.runs_root() == (root / "elsewhere").resolve() == other.runs_root
    scripted = JobManager.from_settings(settings, runs_root=root, remember=False)
    assert scripted.runs_root == root and runs_root.runs_root() == (root / "elsewhere").resolve()


def test_eta_and_throughput_use_the_jobs_own_recent_steps(tmp_path):
    from explorer.jobs import _recent_rate

    run = RunFolder.create(tmp_path / "run", {"kind": "pretrain"})
    records = [{"step": s, "time": 100.0 + s, "split": "train", "seq_per_s": 4.0}
               for s in range(1, 11)]  # 1 step/s, then paused for an hour
    records += [{"step": s, "time": 3700.0 + 0.5 * (s - 10), "split": "train", "seq_per_s": 8.0}
                for s in range(11, 21)]  # resumed: 2 steps/s
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    steps_per_s, seq_per_s = _recent_rate(run)
    assert steps_per_s == pytest.approx(2.0) and seq_per_s == pytest.approx(8.0)
    rewritten = records + [{"step": s, "time": 3706.0 + (s - 15) / 4, "split": "train",
                            "seq_per_s": 16.0} for s in range(16, 22)]  # resumed at step 15
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rewritten))
    steps_per_s, seq_per_s = _recent_rate(run)
    assert steps_per_s == pytest.approx(4.0) and seq_per_s == pytest.approx(16.0)


def test_a_pretraining_form_reads_back_from_its_job():
    from explorer.job_form import JobForm

    form = JobForm(corpus=["/data/a.txt", "/data/b"], preset="custom", layers=3, hidden=96,
                   heads=3, intermediate=200, seq_len=64, batch_size=6, max_steps=321, lr=2e-4,
                   warmup_steps=7, device="cpu", checkpoint_every=40, log_every=3,
                   heldout_fraction=0.1)
    assert JobForm.from_job(form.job()) == form
    preset = JobForm(corpus=["/data/a.txt"], tokenizer="/vocab.txt", preset="small")
    assert JobForm.from_job(preset.job()).args() == preset.args()


def test_new_job_from_a_finetuning_run_fills_the_finetuning_page(qtbot, tmp_path):
    from explorer.finetune_form import FinetuneForm

    train = tmp_path / "train.csv"
    train.write_text("sentence,gold\nfine,pos\nbad,neg\n", encoding="utf-8")
    form = FinetuneForm(task="classify", model=str(tmp_path), train=str(train),
                        text_a="sentence", label="gold", max_steps=55, lr=3e-5, batch_size=4,
                        seq_len=64, early_stopping=2, device="cpu")
    assert FinetuneForm.from_job(form.job()).args() == form.args()
    dialog = NewJobDialog(tmp_path / "runs", JobManager(tmp_path / "runs").new_run_dir,
                          form=FinetuneForm.from_job(form.job()), name="sentiment")
    qtbot.addWidget(dialog)
    assert dialog.kind == "finetune" and dialog.name.text() == "sentiment"
    assert dialog.job_form().args() == form.args()
    dialog.close()
