"""compare page (coming soon)."""

from __future__ import annotations

import streamlit as st

st.title("compare")
st.info("This page is being built.")
