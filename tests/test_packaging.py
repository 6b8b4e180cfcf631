"""Packaging: the wheel carries the default model and works outside the checkout, the frozen
launcher runs as the engine or the explorer, and the desktop identity (id, icons, .desktop,
AppStream metainfo) is one and the same everywhere."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from explorer.identity import APP_ID, APP_NAME, ICON_NAME, ICON_SIZES, app_version

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"


def desktop_entry() -> dict[str, str]:
    lines = DESKTOP.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


# ----- quick checks -----

def test_the_wheel_lists_every_package_and_its_mapped_data_exists():
    """A package missing from pyproject.toml's list is missing from the wheel: the explorer
    would fail on import, but only once installed."""
    config = PYPROJECT["tool"]["setuptools"]
    on_disk = {".".join(init.relative_to(ROOT).parent.parts)
               for top in ("engine", "explorer") for init in (ROOT / top).rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | set(config["package-dir"])
    for package, folder in config["package-dir"].items():
        for pattern in config["package-data"][package]:
            assert list((ROOT / folder).glob(pattern)), f"{package}: nothing matches {pattern}"
    shipped = config["package-data"]["engine.resources"]
    assert not [p for p in shipped if "*.txt" in p or "corpus/*" in p]  # never the corpus


def test_one_id_names_the_desktop_entry_the_metainfo_and_the_icon():
    entry = desktop_entry()
    assert entry["Icon"] == APP_ID and entry["Name"] == APP_NAME
    assert entry["Exec"].split()[0] in PYPROJECT["project"]["scripts"]
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.findtext("launchable") == DESKTOP.name
    assert meta.findtext("project_license") == PYPROJECT["project"]["license"]["text"]
    assert {b.text for b in meta.iter("binary")} == set(PYPROJECT["project"]["scripts"])


def test_the_newest_release_in_the_metainfo_is_the_package_version():
    releases = [r.get("version") for r in ET.parse(METAINFO).getroot().iter("release")]
    assert releases[0] == PYPROJECT["project"]["version"] == app_version()


def test_every_icon_size_is_shipped_at_its_size():
    from PySide6.QtGui import QImage

    assert (PACKAGING / "icons" / f"{ICON_NAME}.svg").is_file()
    for size in ICON_SIZES:
        image = QImage(str(PACKAGING / "icons" / f"{ICON_NAME}-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()  # rounded corners, not a white square


def test_the_application_tells_the_desktop_who_it_is(qapp):
    from explorer.app import make_application

    app = make_application()
    assert app is qapp
    assert app.desktopFileName() == APP_ID  # Wayland matches windows to the .desktop by it
    assert app.applicationName() == APP_NAME and app.applicationVersion() == app_version()
    sizes = {s.width() for s in app.windowIcon().availableSizes()}
    assert sizes == set(ICON_SIZES)


def load_launcher():
    spec = importlib.util.spec_from_file_location("launcher", PACKAGING / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, expected", [
    (["/opt/bert-explorer/bert-engine", "info", "--json"], ("engine", ["info", "--json"])),
    (["C:\\BERT Explorer\\bert-engine.exe", "info"], ("engine", ["info"])),
    # How explorer/jobs.py starts a job: sys.executable, which frozen is the bundle's program.
    (["/opt/bert-explorer/bert-explorer", "-m", "engine.cli", "pretrain", "--resume", "r"],
     ("engine", ["pretrain", "--resume", "r"])),
    (["/usr/bin/bert-explorer", "--screenshot", "a.png"], ("explorer", ["--screenshot", "a.png"])),
    (["bert-explorer"], ("explorer", [])),
])
def test_the_bundle_program_runs_as_the_engine_or_the_explorer(argv, expected):
    assert load_launcher().role(argv) == expected


def test_jobs_run_through_the_program_that_runs_the_app():
    """Frozen, that program is the bundle's, and the launcher takes -m engine.cli."""
    from explorer.jobs import engine_command

    assert engine_command(["info"])[:3] == [sys.executable, *load_launcher().ENGINE_MODULE]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("desktop-file-validate") is None
                    or shutil.which("appstreamcli") is None,
                    reason="apt-get install desktop-file-utils appstream")
def test_the_desktop_files_validate():
    subprocess.run(["desktop-file-validate", str(DESKTOP)], check=True)
    subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], check=True,
                   capture_output=True)


# ----- the wheel, installed on its own -----

def checkout_copy(dest: Path) -> Path:
    """The files git tracks or would track (what a clean clone plus local edits holds), so the
    build neither writes into the checkout nor packs ignored files."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, names):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / os.fsdecode(name))
    return dest


@pytest.mark.slow
def test_the_wheel_alone_opens_its_bundled_model(tmp_path):
    src = checkout_copy(tmp_path / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(src)], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "wheel").glob("bert_explorer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/resources/models/default/model.safetensors" in names
    assert not [n for n in names if n.startswith("engine/resources/corpus/") and
                not n.endswith("SOURCES.md")]  # the corpus stays out, its licences go in

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    # The test venv's packages (torch, Qt...) without a second download; a plain path line, so
    # its editable install of this checkout is not activated.
    (site / "test-venv.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
                   check=True, cwd=tmp_path)

    run = dict(cwd=tmp_path, capture_output=True, text=True, timeout=300,
               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    where = subprocess.run([python, "-c", "import engine, explorer.identity as i; "
                            "print(engine.__file__); print(i.icon_dir())"], **run)
    assert [Path(p).is_relative_to(site) for p in where.stdout.split()] == [True, True], where

    info = subprocess.run([venv / "bin" / "bert-engine", "info"], **run)
    assert info.returncode == 0, info.stderr
    assert str(site / "engine" / "resources" / "models" / "default") in info.stdout
    assert re.search(r"\bmlm\b", info.stdout) and re.search(r"\bnsp\b", info.stdout)

    shot = tmp_path / "window.png"
    gui = subprocess.run([venv / "bin" / "bert-explorer", "--screenshot", str(shot)], **run)
    assert gui.returncode == 0, gui.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
