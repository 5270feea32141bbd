"""The Sketch page's map: where the current drawing falls among 2,000 test images (the explorer's PCA)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist_core import charts, insight
from fmnist_core.data import FashionMNIST


@st.cache_resource(show_spinner="Mapping 2,000 test images…")
def _map(source: str, _x: np.ndarray, _y: np.ndarray) -> insight.PcaMap:
    return insight.pca_map(_x, _y, n=2000, seed=0)  # one per dataset and server


def render_sketch_place(data: FashionMNIST, x28: np.ndarray) -> None:
    # Lazy: the 2,000-point map is computed and sent only while the expander is open, not on every stroke.
    place = st.expander(
        "Where your drawing falls among 2,000 test images",
        icon=":material/scatter_plot:",
        key="sketch_place_open",
        on_change="rerun",
    )
    if not place.open:
        return
    with place:
        pca = _map(data.source, data.x_test, data.y_test)
        st.plotly_chart(
            charts.sketch_place_figure(
                pca.coords, pca.labels, pca.indices, pca.place(x28), explained=pca.explained
            ),
            width="stretch",
            key="sketch_place_chart",
        )
        st.caption(
            "The two directions along which the test images' pixels vary most (PCA, as in the explorer), "
            "coloured by class; the star is your drawing. Near a cluster, it looks like those items pixel by "
            "pixel; far from all of them, it looks like nothing in the data, whatever the model answers."
        )
