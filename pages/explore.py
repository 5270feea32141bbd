"""Dataset explorer: what is in Fashion-MNIST, image by image and class by class.

Reads like the screen: summary, then tabs (images, class averages, PCA, pixel intensities).
Statistics come from fmnist_core.explore, figures from fmnist_core.charts; both are cached here,
keyed on the data source and simple arguments (never on arrays). Never imports TensorFlow.
"""

from __future__ import annotations

import streamlit as st

from fmnist_core import charts, explore
from fmnist_core.data import CLASS_NAMES, NUM_CLASSES, FashionMNIST, class_counts
from pages._shared import dataset_or_stop

GRID_ZOOM = 3  # grid thumbnails are 84x84: 28 px upscaled without blur
PER_PAGE_CHOICES = (16, 32, 64)
PCA_SIZES = (500, 1000, 2000, 5000)
HIST_BINS = (16, 32, 64, 128, 256)
PAPER = "https://arxiv.org/abs/1708.07747"


# ------------------------------------------------------------------------------------ cached core calls
# `source` keys the caches (the dataset itself is one process-wide resource); arrays are `_`-prefixed.
# Statistics go through cache_data. Finished figures go through cache_resource (shared, never copied):
# cache_data would unpickle them on every rerun, and unpickling or rebuilding a Plotly figure
# re-validates every trace, which is most of a rerun's cost. Nothing mutates a cached figure.


@st.cache_data(show_spinner=False)
def summary_table(source: str, _data: FashionMNIST):
    return explore.dataset_summary(_data)


@st.cache_data(show_spinner=False)
def class_table(source: str, _data: FashionMNIST):
    return explore.class_table(_data)


@st.cache_data(show_spinner="Projecting a sample with PCA…")
def projection(source: str, split: str, n: int, seed: int, _data: FashionMNIST) -> explore.Projection:
    return explore.pca_2d(*explore.split_arrays(_data, split), n=n, seed=seed)


@st.cache_data(show_spinner="Counting pixel values…")
def histograms(source: str, split: str, bins: int, exclude_zero: bool, _data: FashionMNIST):
    return explore.pixel_histograms(*explore.split_arrays(_data, split), bins=bins, exclude_zero=exclude_zero)


@st.cache_resource(show_spinner=False)
def distribution_figure(source: str, _data: FashionMNIST):
    counts = {"train": class_counts(_data.y_train), "test": class_counts(_data.y_test)}
    return charts.class_distribution(counts, CLASS_NAMES, title="Images per class")


@st.cache_resource(show_spinner="Averaging each class…", max_entries=4)
def mean_std_figure(source: str, split: str, _data: FashionMNIST):
    means, stds = explore.class_mean_std(*explore.split_arrays(_data, split))
    return charts.mean_std_images(means, stds, CLASS_NAMES)


@st.cache_resource(show_spinner=False, max_entries=16)
def pca_figure(source: str, split: str, n: int, seed: int, _data: FashionMNIST):
    # Also keeps the figure identical across reruns, which a Plotly selection needs to survive.
    proj = projection(source, split, n, seed, _data)
    return charts.pca_scatter(
        proj.coords, proj.labels, proj.indices, CLASS_NAMES, explained=proj.explained_variance_ratio
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def histogram_figure(
    source: str, split: str, bins: int, exclude_zero: bool, classes: tuple[int, ...], log_y: bool, _data
):
    edges, counts = histograms(source, split, bins, exclude_zero, _data)
    return charts.pixel_histograms(edges, counts, CLASS_NAMES, classes=classes or None, log_y=log_y)


@st.cache_resource(show_spinner=False, max_entries=256)
def image_figure(source: str, split: str, index: int, title: str, height: int, _data: FashionMNIST):
    x, _ = explore.split_arrays(_data, split)
    return charts.image_heatmap(x[index], title=title, height=height)


def class_label(c: int) -> str:
    return explore.caption(c)


def _reset_page() -> None:
    # A new filter or order starts again at page 1. Dropping the state (rather than writing 1) lets the
    # pagination widget fall back to its default without a "default and Session State" warning.
    st.session_state.pop("explore_page", None)


# ------------------------------------------------------------------------------------ sections


def render_summary(data: FashionMNIST) -> None:
    summary = summary_table(data.source, data)
    train, test = summary.iloc[0], summary.iloc[1]
    per_class = class_table(data.source, data)
    per_class_value = (
        f"{int(per_class['train'].iloc[0]):,}" if per_class["train"].nunique() == 1 else "varies"
    )
    facts = [
        ("Train images", f"{int(train['images']):,}"),
        ("Test images", f"{int(test['images']):,}"),
        ("Image size", f"{train['image shape']}"),
        ("dtype", f"{train['dtype']}"),
        ("Pixel range", f"{train['min']}–{train['max']}"),
        ("Classes", f"{int(train['classes'])}"),
        ("Train per class", per_class_value),
    ]
    for col, (label, value) in zip(st.columns(len(facts)), facts, strict=True):
        col.metric(label, value)
    left, right = st.columns([5, 2], gap="medium")
    with left:
        st.plotly_chart(distribution_figure(data.source, data), width="stretch", key="explore_dist_chart")
    with right:
        st.dataframe(explore.summary_display(summary), width="stretch")


def grid_controls_ui() -> tuple[list[int], int, bool, int]:
    """Class filter, page size, order; returns (classes, per_page, shuffle, seed)."""
    c1, c2, c3, c4 = st.columns([4, 1, 1, 1], vertical_alignment="bottom")
    classes = c1.multiselect(
        "Classes",
        list(range(NUM_CLASSES)),
        format_func=class_label,
        placeholder="All classes",
        key="explore_classes",
        on_change=_reset_page,
    )
    per_page = c2.selectbox(
        "Per page", PER_PAGE_CHOICES, index=1, key="explore_per_page", on_change=_reset_page
    )
    shuffle = c3.toggle("Shuffle", key="explore_shuffle", on_change=_reset_page)
    seed = c4.number_input(
        "Seed",
        min_value=0,
        max_value=2**31 - 1,
        value=0,
        step=1,
        key="explore_seed",
        disabled=not shuffle,
        on_change=_reset_page,
    )
    return classes, per_page, shuffle, int(seed)


def render_images(data: FashionMNIST, split: str) -> None:
    x, y = explore.split_arrays(data, split)
    classes, per_page, shuffle, seed = grid_controls_ui()
    # The page count depends on the filter, so choose the page first and draw the widget after the grid.
    page_no = st.session_state.get("explore_page", 1)
    grid = explore.select_grid(
        y, classes=classes, page=page_no, per_page=per_page, shuffle=shuffle, seed=seed
    )
    captions = [explore.caption(y[i]) for i in grid.indices]

    left, right = st.columns([3, 2], gap="medium")
    with left:
        st.caption(
            f"{grid.n_matching:,} {split} images match · page {grid.page} of {grid.n_pages}"
            + (f" · shuffled with seed {seed}" if shuffle else " · file order")
        )
        if len(grid.indices):
            st.image(list(explore.upscale(x[grid.indices], GRID_ZOOM)), caption=captions, output_format="PNG")
        else:
            st.info("No images match the filter.")
        st.pagination(grid.n_pages, default=grid.page, key="explore_page", max_visible_pages=9)
    with right:
        if not len(grid.indices):
            return
        choice = st.selectbox(
            "Inspect an image from this page",
            [int(i) for i in grid.indices],
            format_func=lambda i: f"#{i} — {explore.caption(y[i])}",
            key="explore_inspect",
        )
        render_image_inspector(data, split, choice, key="explore_inspect_chart")


def render_image_inspector(
    data: FashionMNIST, split: str, index: int, *, key: str, prefix: str = "", height: int = 440
) -> None:
    """One image as a heatmap (pixel values on hover) with a line of facts under it."""
    x, y = explore.split_arrays(data, split)
    title = f"{prefix}{split} #{index} — {explore.caption(y[index])}"
    st.plotly_chart(image_figure(data.source, split, index, title, height, data), width="stretch", key=key)
    facts = explore.image_stats(x[index])
    st.caption(
        f"min {facts['min']} · max {facts['max']} · mean {facts['mean']:.1f} · "
        f"{facts['lit']:.0%} of pixels non-zero. Hover a pixel for its value."
    )


def render_class_means(data: FashionMNIST, split: str) -> None:
    st.caption(
        "Top: each class's average image. Bottom: how much each pixel varies within the class "
        "(standard deviation): bright where items of that class differ in shape or pattern."
    )
    st.plotly_chart(mean_std_figure(data.source, split, data), width="stretch", key="explore_meanstd_chart")


def render_projection(data: FashionMNIST, split: str) -> None:
    x, y = explore.split_arrays(data, split)
    c1, c2, _ = st.columns([2, 1, 3], vertical_alignment="bottom")
    n = c1.select_slider("Sample size", PCA_SIZES, value=2000, key="explore_pca_n")
    seed = int(
        c2.number_input("Sample seed", min_value=0, max_value=2**31 - 1, value=0, key="explore_pca_seed")
    )
    proj = projection(data.source, split, n, seed, data)
    left, right = st.columns([3, 2], gap="large")
    with left:
        event = st.plotly_chart(
            pca_figure(data.source, split, n, seed, data),
            width="stretch",
            key="explore_pca_chart",
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
        )
        st.caption(
            f"PCA of {len(proj.indices):,} random {split} images (seed {seed}); together the two axes keep "
            f"{proj.explained_variance_ratio.sum():.0%} of the sample's pixel variance. Click a point, or "
            "draw a box or lasso (toolbar), to see the images."
        )
    selected = explore.selected_indices(event.selection.points if event else [], valid=proj.indices)
    with right:
        if not selected:
            st.info("Click a point in the projection to see its image here.")
            render_image_inspector(
                data, split, int(proj.indices[0]), prefix="for example: ", key="explore_pca_image", height=380
            )
            return
        render_image_inspector(data, split, selected[0], key="explore_pca_image", height=380)
        if len(selected) > 1:
            shown = selected[:24]
            st.caption(
                f"{len(selected)} selected" + (f", first {len(shown)} shown" if len(selected) > 24 else "")
            )
            st.image(
                list(explore.upscale(x[shown], 2)),
                caption=[explore.caption(y[i]) for i in shown],
                output_format="PNG",
            )


def render_histograms(data: FashionMNIST, split: str, zero_share: float) -> None:
    c1, c2, c3, c4 = st.columns([1, 1.4, 1, 3.5], vertical_alignment="bottom")
    bins = c1.selectbox("Bins", HIST_BINS, index=2, key="explore_hist_bins")
    exclude_zero = c2.toggle("Hide background (0)", value=True, key="explore_hist_exclude_zero")
    log_y = c3.toggle("Log scale", value=False, key="explore_hist_log")
    classes = c4.multiselect(
        "Classes",
        list(range(NUM_CLASSES)),
        format_func=class_label,
        placeholder="All classes",
        key="explore_hist_classes",
    )
    fig = histogram_figure(data.source, split, bins, exclude_zero, tuple(sorted(classes)), log_y, data)
    st.plotly_chart(fig, width="stretch", key="explore_hist_chart")
    st.caption(
        f"{zero_share:.0%} of {split} pixels are exactly 0 (the black background)"
        + ("; they are left out so the item pixels show." if exclude_zero else ".")
        + " Each line is normalised to its class's pixel count."
    )


# ------------------------------------------------------------------------------------ page

data = dataset_or_stop()
st.title("Dataset explorer")
st.caption(
    f"Fashion-MNIST ([Xiao, Rasul & Vollgraf 2017]({PAPER})): 70,000 grayscale 28×28 images of Zalando "
    f"articles in 10 classes. Loaded from `{data.source}`."
)
render_summary(data)

split = st.radio(
    "Split", ("train", "test"), horizontal=True, key="explore_split", help="Which split the tabs below show."
)
# Lazy tabs: only the open tab runs (a click on another reruns the page), so a first visit computes the
# image grid alone instead of all four views (class means, PCA and histograms took ~1.6 s of a cold start).
tab_images, tab_means, tab_pca, tab_hist = st.tabs(
    ["Images", "Class mean & std", "PCA projection", "Pixel intensities"],
    key="explore_tab",
    on_change="rerun",
)
if tab_images.open:
    with tab_images:
        render_images(data, split)
if tab_means.open:
    with tab_means:
        render_class_means(data, split)
if tab_pca.open:
    with tab_pca:
        render_projection(data, split)
if tab_hist.open:
    with tab_hist:
        zero_share = float(summary_table(data.source, data).set_index("split").loc[split, "zero share"])
        render_histograms(data, split, zero_share)
