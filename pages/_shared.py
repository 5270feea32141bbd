"""Streamlit helpers shared by the pages: cached data access and the sidebar status."""

from __future__ import annotations

import streamlit as st

from fmnist_core.data import DatasetError, FashionMNIST, load_fashion_mnist


@st.cache_resource(show_spinner="Loading Fashion-MNIST (70,000 images)…")
def get_dataset() -> FashionMNIST:
    # cache_resource, not cache_data: the arrays are read-only and 55 MB; cache_data would
    # unpickle a copy on every rerun.
    return load_fashion_mnist()


def dataset_or_stop(*, sidebar_status: bool = False) -> FashionMNIST:
    """The dataset, or a clear message with the fix (and st.stop) when it cannot be loaded."""
    try:
        data = get_dataset()
    except DatasetError as exc:
        st.error("**The Fashion-MNIST dataset could not be loaded.**")
        st.code(str(exc), language=None)
        st.info("Fix it, then reload this page.")
        st.stop()
    if sidebar_status:
        st.sidebar.caption(f"Data: `{data.source}`  \n{len(data.x_train):,} train · {len(data.x_test):,} test images")
    return data
