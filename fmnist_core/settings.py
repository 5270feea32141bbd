"""Where Fashion-MNIST Studio keeps its state (run store, models)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "FMNIST_HOME"


def studio_home() -> Path:
    """$FMNIST_HOME if set, else ~/.local/share/fmnist-studio (XDG_DATA_HOME respected). Created if missing."""
    if os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        home = Path(base) / "fmnist-studio"
    home.mkdir(parents=True, exist_ok=True)
    return home
