"""Showing user text as text: escaping for Streamlit's markdown (labels, study names, file names)."""

from __future__ import annotations

import re

# Markdown and HTML syntax Streamlit's renderer acts on; "<" and "&" become entities so no element is made.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$>])")


def md_escape(text: object, *, limit: int = 200) -> str:
    """`text` made inert for st.markdown / st.caption / alerts: no links, images, HTML, emphasis,
    material icons or LaTeX; long text is cut with an ellipsis."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    s = " ".join(s.split())  # no line breaks: a label stays on its line
    return _MD_SPECIAL.sub(r"\\\1", s)
