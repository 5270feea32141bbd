"""The Sketch page's instant send: the drawing goes to the app as soon as a stroke ends.

streamlit-drawable-canvas (0.13) sends a drawing 200 ms after its last change (a debounce, `Bc = 200` in
its frontend bundle) - two fifths of the ~0.5 s a user waited from mouse-up to answer. Its toolbar has an
"Update the app with this drawing" button whose handler sends at once and cancels the pending send. This
JavaScript-only component (Components v2 run in the page, not in an iframe) presses that button right
after a stroke that started on the canvas ends, once the canvas has added the stroke. If a later version
of the canvas has no such button, nothing happens and the canvas' own delayed send still works.
"""

from __future__ import annotations

import os

import streamlit as st

# Off with FMNIST_SKETCH_INSTANT_SEND=0 (the browser bench measures both ways side by side).
ENABLED = os.environ.get("FMNIST_SKETCH_INSTANT_SEND", "1") != "0"
SEND_LABEL = "Update the app with this drawing"

_JS = """
const state = { enabled: true, label: "", started: null, installed: false };
const canvasRoot = (ev) => {
  for (const el of ev.composedPath()) {
    if (el instanceof HTMLCanvasElement && el.classList.contains("upper-canvas")) return el.getRootNode();
  }
  return null;
};
const down = (ev) => { state.started = state.enabled ? canvasRoot(ev) : null; };
const up = () => {
  const root = state.started;
  state.started = null;
  if (!root || !root.querySelector) return;
  // After the canvas' own mouse-up handlers have added the stroke (the same input task: 10 ms is plenty).
  setTimeout(() => {
    const send = root.querySelector(`button[aria-label="${state.label}"]`);
    if (send && state.enabled) send.click();
  }, 10);
};
export default function (component) {
  state.enabled = !!component.data.enabled;
  state.label = component.data.label;
  if (!state.installed) {
    window.addEventListener("pointerdown", down, true);
    window.addEventListener("pointerup", up, false);
    state.installed = true;
  }
  return () => {
    window.removeEventListener("pointerdown", down, true);
    window.removeEventListener("pointerup", up, false);
    state.installed = false;
  };
}
"""

_component = st.components.v2.component("fmnist_sketch_instant_send", js=_JS)


def instant_send(*, enabled: bool = True) -> None:
    """Mount the helper (an empty element). enabled=False in polygon mode: the canvas sends a polygon only
    once it is closed, and so must we."""
    if ENABLED:
        _component(
            data={"label": SEND_LABEL, "enabled": enabled}, key="sketch_instant_send", height="content"
        )
