"""Fashion-MNIST Studio: routes only (page config, navigation, data status in the sidebar)."""

from __future__ import annotations

import streamlit as st

from pages._shared import ROUTED_KEY, dataset_or_stop

st.set_page_config(page_title="Fashion-MNIST Studio", page_icon="👕", layout="wide")

PAGES = [
    st.Page("pages/explore.py", title="Dataset explorer", icon=":material/grid_view:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(
        "pages/compare.py", title="Compare optimizers", icon=":material/leaderboard:", url_path="compare"
    ),
    st.Page("pages/sketch.py", title="Sketch & classify", icon=":material/draw:", url_path="sketch"),
]
page = st.navigation(PAGES)

with st.sidebar:
    st.markdown("### :material/checkroom: Fashion-MNIST Studio")
dataset_or_stop(sidebar_status=True)  # friendly message + fix instead of a traceback when the data is missing
st.session_state[ROUTED_KEY] = True
page.run()
