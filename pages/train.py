"""train page (coming soon)."""

from __future__ import annotations

import streamlit as st

st.title("train")
st.info("This page is being built.")
