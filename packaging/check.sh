#!/usr/bin/env bash
# Check what packaging/build.sh built, from outside the checkout: the bundle renders the window
# with its own default model, its bert-engine works, a 5-step tiny pretraining job started the
# way the GUI starts jobs (bert-explorer -m engine.cli ...) finishes, the .deb holds what a
# desktop needs, and the shipped .desktop and AppStream files validate
# (desktop-file-validate, appstreamcli: apt-get install desktop-file-utils appstream).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
OUT=$(cd "${BX_OUT:-packaging/out}" && pwd)
bundle=$OUT/dist/bert-explorer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # nothing may come from the checkout
export QT_QPA_PLATFORM=offscreen
fail() { echo "packaging/check.sh: $*" >&2; exit 1; }
timed() { local t0=$SECONDS; "$@"; echo "  ($((SECONDS - t0)) s: $*)"; }

echo "== bert-explorer --screenshot (the bundle's own model)"
timed "$bundle/bert-explorer" --screenshot "$work/window.png"
python3 -c 'import sys; sys.exit(open(sys.argv[1], "rb").read(8) != b"\x89PNG\r\n\x1a\n")' \
    "$work/window.png" || fail "no PNG written"

echo "== bert-explorer --version (the package metadata is bundled)"
version=$("$bundle/bert-explorer" --version)
expected=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$repo/pyproject.toml")
[ "$version" = "bert-explorer $expected" ] || fail "--version says '$version', not $expected"
echo "  $version"

echo "== bert-engine info"
timed "$bundle/bert-engine" info | tee "$work/info.txt"
model=$bundle/_internal/engine/resources/models/default
grep -qF "$model" "$work/info.txt" || fail "bert-engine info did not open $model"

echo "== a 5-step tiny pretraining job, started as the GUI starts one"
t0=$SECONDS
"$bundle/bert-explorer" -m engine.cli pretrain --run-dir "$work/run" \
    --corpus "$repo/resources/corpus/slice.txt" --tokenizer "$model" \
    --preset tiny --seq-len 32 --batch-size 4 --max-steps 5 > "$work/pretrain.txt" 2>&1 \
    || { tail -20 "$work/pretrain.txt"; fail "the pretraining job failed"; }
echo "  ($((SECONDS - t0)) s: bert-explorer -m engine.cli pretrain --preset tiny --max-steps 5 ...)"
state=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["state"], s["step"])' \
    "$work/run/status.json")
[ "$state" = "finished 5" ] || fail "the job ended as '$state', not 'finished 5'"
echo "  status: $state"

deb=$(ls "$OUT"/bert-explorer_*.deb 2>/dev/null | tail -1)
desktop=$(ls "$repo"/packaging/*.desktop)
metainfo=$(ls "$repo"/packaging/*.metainfo.xml)
if [ -n "$deb" ]; then
    echo "== $(basename "$deb")"
    dpkg-deb -x "$deb" "$work/deb"
    for path in usr/bin/bert-explorer usr/bin/bert-engine opt/bert-explorer/bert-explorer \
            usr/share/icons/hicolor/scalable/apps usr/share/icons/hicolor/128x128/apps; do
        [ -e "$work/deb/$path" ] || [ -L "$work/deb/$path" ] || fail "the .deb has no $path"
    done
    dpkg-deb -f "$deb" Package Version Depends
    desktop=$(ls "$work"/deb/usr/share/applications/*.desktop)
    metainfo=$(ls "$work"/deb/usr/share/metainfo/*.metainfo.xml)
fi

echo "== desktop-file-validate, appstreamcli validate"
desktop-file-validate "$desktop" && echo "  $(basename "$desktop"): valid"
appstreamcli validate --no-net "$metainfo"
echo "packaging/check.sh: all good"
