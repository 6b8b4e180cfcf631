#!/usr/bin/env bash
# Build BERT Explorer's installable artifacts from this checkout, on Linux:
#   the wheel (with the default model), the PyInstaller onedir bundle holding bert-explorer and
#   bert-engine, and a .deb around the bundle (/opt/bert-explorer, commands in /usr/bin, a
#   .desktop entry, hicolor icons, AppStream metainfo). Prints their paths and sizes.
# It builds in a venv of its own with only the runtime dependencies and the CPU torch build
# (kept between runs, so a rebuild skips the installs). Everything goes under packaging/out/
# (ignored by git), or BX_OUT. Needs git (it packages the files git tracks or would track),
# dpkg-deb for the .deb (skipped with a note where it is missing) and objdump.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
OUT=$(mkdir -p "${BX_OUT:-packaging/out}" && cd "${BX_OUT:-packaging/out}" && pwd)
# As scripts/setup.sh: on machines with a local CPU wheel this is it; elsewhere name the CPU
# build, e.g. PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu TORCH_SPEC=torch==2.13.0+cpu
# (PyPI's default Linux torch is the CUDA build: several GB more in the bundle).
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PYINSTALLER_SPEC=pyinstaller==6.22.3
MAINTAINER=${BX_MAINTAINER:-BERT Explorer developers <bert-explorer@localhost>}
repo=$(pwd)
started=$SECONDS
step() { printf '\n== %s (%ds)\n' "$1" $((SECONDS - started)); }

version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
venv=$OUT/venv
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

step "build venv ($venv): $TORCH_SPEC, $PYINSTALLER_SPEC"
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"${pip[@]}" install "$TORCH_SPEC" "$PYINSTALLER_SPEC"
if "$venv/bin/python" -c 'import torch, sys; sys.exit(torch.version.cuda is None)'; then
    echo "packaging/build.sh: $venv has a CUDA torch; the bundle must be CPU-only (see TORCH_SPEC)" >&2
    exit 1
fi

step "wheel"
# From a copy of the files git tracks or would track: no build/ or egg-info in the checkout,
# and nothing ignored (runs, venvs, outputs) can slip into the wheel.
src=$OUT/src
rm -rf "$src" "$OUT/wheel" && mkdir -p "$src" "$OUT/wheel"
git ls-files -z --cached --others --exclude-standard \
    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$src"  # deleted: skipped
"${pip[@]}" wheel --no-deps -w "$OUT/wheel" "$src"
wheel=$(ls "$OUT"/wheel/bert_explorer-"$version"-*.whl)
"${pip[@]}" install "$wheel[gui]"                            # its dependencies, torch kept
"${pip[@]}" install --no-deps --force-reinstall "$wheel"     # this build, even at the same version
# The desktop-file id names the .desktop, metainfo and icon files; explorer/identity.py has it.
APP_ID=$(cd "$OUT" && "$venv/bin/python" -c 'from explorer.identity import APP_ID; print(APP_ID)')

step "bundle (PyInstaller)"
dist=$OUT/dist
# Run from the build venv's own folder, so the checkout is not on sys.path: the bundle is made
# from the installed wheel.
(cd "$OUT" && "$venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$dist" \
    --workpath "$OUT/work" "$repo/packaging/bert-explorer.spec")
bundle=$dist/bert-explorer
# One program, two names: bert-engine is a symlink (each PyInstaller exe carries the whole
# Python archive, about 40 MB); the launcher dispatches on the name.
rm -f "$bundle/bert-engine" && ln -s bert-explorer "$bundle/bert-engine"

deb=
if command -v dpkg-deb >/dev/null; then
    step ".deb"
    arch=$(dpkg --print-architecture)
    # The newest glibc symbol version any bundled binary asks for: the oldest distro it runs on.
    glibc=$({ find "$bundle" -type f \( -name '*.so*' -o -perm -u+x \) -exec objdump -p {} + \
                2>/dev/null || true; } | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1 | sed 's/GLIBC_//')
    root=$OUT/deb/bert-explorer_${version}-1_$arch
    rm -rf "$OUT/deb" && mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" \
        "$root/usr/share/applications" "$root/usr/share/metainfo" \
        "$root/usr/share/icons/hicolor/scalable/apps"
    cp -al "$bundle" "$root/opt/bert-explorer"   # hard links: no second 800 MB copy
    ln -s /opt/bert-explorer/bert-explorer "$root/usr/bin/bert-explorer"
    ln -s /opt/bert-explorer/bert-engine "$root/usr/bin/bert-engine"
    cp "packaging/$APP_ID.desktop" "$root/usr/share/applications/"
    cp "packaging/$APP_ID.metainfo.xml" "$root/usr/share/metainfo/"
    cp packaging/icons/bert-explorer.svg "$root/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
    for png in packaging/icons/bert-explorer-*.png; do
        size=${png##*-}; size=${size%.png}
        mkdir -p "$root/usr/share/icons/hicolor/${size}x$size/apps"
        cp "$png" "$root/usr/share/icons/hicolor/${size}x$size/apps/$APP_ID.png"
    done
    # PyInstaller bundles the libraries Qt and torch need from the build host, except those on
    # its exclude list (libGL, libEGL, libxcb: they must match the system's drivers), and any
    # the host lacks: Debian 12 has no libxcb-icccm4 or libxcb-keysyms1 unless installed, and
    # Qt's xcb plugin needs both, so the package asks for them.
    cat > "$root/DEBIAN/control" <<EOF
Package: bert-explorer
Version: $version-1
Architecture: $arch
Maintainer: $MAINTAINER
Section: science
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= $glibc), libgl1, libegl1, libxcb1, libxcb-icccm4, libxcb-keysyms1, libfontconfig1
Description: See what a BERT model does, and train one
 A from-scratch PyTorch BERT engine (bert-engine) and a Qt explorer (bert-explorer) that
 shows tokens, attention, fill-mask and next-sentence predictions as you type, with a small
 English BERT included. CPU build of PyTorch.
EOF
    # zstd, not xz: xz takes about 8 minutes on 2 cores for a 10% smaller file.
    dpkg-deb --root-owner-group -Zzstd -z6 --build "$root" "$OUT" >/dev/null
    deb=$OUT/bert-explorer_${version}-1_$arch.deb
else
    echo "dpkg-deb not found: no .deb (apt-get install dpkg-dev)" >&2
fi

step "done"
echo "wheel   $(du -h "$wheel" | cut -f1)  $wheel"
echo "bundle  $(du -sh "$bundle" | cut -f1)  $bundle/  (run $bundle/bert-explorer, $bundle/bert-engine)"
[ -z "$deb" ] || echo "deb     $(du -h "$deb" | cut -f1)  $deb  (glibc >= $glibc)"
echo "built in $((SECONDS - started)) s"
