"""Dataset explorer (placeholder until the explorer lands)."""

from __future__ import annotations

import streamlit as st

from pages._shared import dataset_or_stop

data = dataset_or_stop()
st.title("Dataset explorer")
st.write(data.x_train.shape)
