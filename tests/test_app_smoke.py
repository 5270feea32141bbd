"""AppTest: every page renders through app.py's st.navigation with no exception."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

PAGES = ["pages/explore.py", "pages/train.py", "pages/compare.py", "pages/sketch.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_via_navigation(page: str, fmnist_home):
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title, "each page shows a title"


def test_missing_dataset_is_a_message_not_a_traceback(tmp_path, monkeypatch, fmnist_home):
    import streamlit as st

    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    st.cache_resource.clear()  # the dataset is cached process-wide by earlier tests
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    assert not at.exception
    assert any("could not be loaded" in e.value for e in at.error)
    assert any("FMNIST_DATA_DIR" in c.value for c in at.code)
    monkeypatch.delenv("FMNIST_DATA_DIR")
    st.cache_resource.clear()
