#!/usr/bin/env bash
# Idempotent set-up: venv + pip packages, the dataset, (with --browser) Chromium and (with --ray) Ray.
# Works as root (CI, fresh Debian) and as a user (uses sudo -n if available, else explains).
set -euo pipefail
cd "$(dirname "$0")/.."

WANT_BROWSER=0
WANT_RAY=0
for a in "$@"; do
  case "$a" in
    --browser) WANT_BROWSER=1 ;;
    --ray) WANT_RAY=1 ;;
  esac
done

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}

apt_install() {
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "!! cannot apt-get install $* (not root, no passwordless sudo)"; return 1; fi
  fi
  if ! command -v apt-get >/dev/null; then echo "!! no apt-get on this machine to install $*"; return 1; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq "$@" </dev/null >/dev/null 2>&1 || {
    $sudo apt-get update -qq </dev/null >/dev/null && $sudo apt-get install -y -qq "$@" </dev/null >/dev/null; }
}

# 1. Python environment (re-installs only when requirements change).
STAMP="$VENV/.installed"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo ">> creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || requirements.txt -nt "$STAMP" || requirements-dev.txt -nt "$STAMP" ]]; then
  echo ">> installing Python packages"
  "$VENV/bin/python" -m pip install -q --upgrade pip </dev/null
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt </dev/null
  touch "$STAMP"
fi
# The optional Ray executor (requirements-ray.txt): `make test` tests it too. Re-installs only on change.
RAY_STAMP="$VENV/.installed-ray"
if [[ $WANT_RAY -eq 1 ]] && [[ ! -f "$RAY_STAMP" || requirements-ray.txt -nt "$RAY_STAMP" ]]; then
  echo ">> installing the Ray executor's packages (requirements-ray.txt)"
  "$VENV/bin/python" -m pip install -q -r requirements-ray.txt </dev/null
  touch "$RAY_STAMP"
fi

# 2. Dataset: $FMNIST_DATA_DIR, the Debian package, or Keras' cache; else try the package,
#    else leave it to Keras' downloader at first start (online laptops).
if "$VENV/bin/python" -c "import sys; from fmnist_core.data import find_data_dir; sys.exit(0 if find_data_dir() else 1)" 2>/dev/null; then
  echo ">> dataset: $("$VENV/bin/python" -c 'from fmnist_core.data import find_data_dir; print(find_data_dir())')"
else
  echo ">> dataset not found; installing Debian package dataset-fashion-mnist"
  apt_install dataset-fashion-mnist || echo ">> no package; the app will try Keras' downloader (needs internet)"
fi

# 3. Chromium for the end-to-end tests: Debian's package, used through executable_path (no browser download).
if [[ $WANT_BROWSER -eq 1 ]] && [[ ! -x /usr/bin/chromium ]]; then
  echo ">> installing Debian chromium"
  apt_install chromium
fi
echo ">> set-up done"
