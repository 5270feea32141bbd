"""Every Plotly figure of the product, built by pure functions from plain data (arrays, DataFrames).

No Streamlit here, and no plotly.express (its import costs ~1 s and pulls in more than we use):
figures are assembled from graph_objects so they are fast to build and easy to test.

Conventions: images are (28, 28) arrays of 0-255 shown like matplotlib's imshow (row 0 at the top,
0 = black); the 10 classes always get CLASS_COLORS[i]; training variants get colours from
`variant_colors`, stable across charts for the same set of variant names.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from fmnist_core.data import CLASS_NAMES

TEMPLATE = "plotly_white"
# d3's category10: ten distinct hues, one per Fashion-MNIST class.
CLASS_COLORS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# CARTO "Bold": for training variants (optimizers, models), distinct from the class colours' role.
VARIANT_COLORS: tuple[str, ...] = (
    "#3969AC",
    "#E68310",
    "#11A579",
    "#E73F74",
    "#7F3C8D",
    "#F2B701",
    "#008695",
    "#80BA5A",
    "#CF1C90",
    "#F97B72",
    "#A5AA99",
)
SPLIT_COLORS: dict[str, str] = {"train": "#4C78A8", "test": "#F58518", "validation": "#54A24B"}
TRAIN_COLOR, VAL_COLOR, BATCH_COLOR = "#1f77b4", "#ff7f0e", "#9ecae9"
HIGHLIGHT, MUTED = "#1f77b4", "#c9d3df"
GRAY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]  # imshow's "gray": 0 black, 255 white
# Transparent at 0, then opaque warm colours: the image stays visible under low saliency.
SALIENCY_SCALE = [
    [0.0, "rgba(255,255,0,0)"],
    [0.25, "rgba(255,200,0,0.25)"],
    [0.6, "rgba(255,80,0,0.6)"],
    [1.0, "rgba(220,0,0,0.85)"],
]
WAITING = "Waiting for the first points…"

_METRIC_LABELS = {
    "accuracy": "train accuracy",
    "loss": "train loss",
    "val_accuracy": "validation accuracy",
    "val_loss": "validation loss",
}


# --------------------------------------------------------------------------------------------- helpers


@cache
def _template() -> go.layout.Template:
    """plotly_white, slimmed to the trace types we draw: assigning the full template by name
    deep-copies and validates defaults for ~50 trace types, ~30 ms per figure on every rerun."""
    full = pio.templates[TEMPLATE]
    return go.layout.Template(
        layout=full.layout, data={k: full.data[k] for k in ("heatmap", "scatter", "bar")}
    )


def _set_template(fig: go.Figure) -> None:
    """fig.layout.template = _template(), without validating it again: validation deep-copies and checks
    every default in it (~10 ms a figure here, most of `_style`'s cost), and the template was validated
    once when `_template()` built it. Plotly applies its own default template the same way
    (`BaseFigure._initialize_layout_template`); the figure gets its own copy of the template's data, so
    the JSON is identical to `update_layout(template=_template())` (tests/test_charts.py checks it)."""
    layout = fig.layout
    layout._validate = False
    try:
        layout.template = _template()
    finally:
        layout._validate = fig._validate


def _style(fig: go.Figure, *, title: str = "", height: int | None = None, legend: bool = True) -> go.Figure:
    _set_template(fig)
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", y=0.98, yanchor="top", font=dict(size=15))
        if title
        else None,
        # Room on top for title, then legend, left-aligned: the top right is where Plotly's toolbar
        # appears on hover, and it would cover a legend there.
        margin=dict(l=10, r=10, t=(76 if legend else 48) if title else (40 if legend else 16), b=10),
        height=height,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    return fig


def _reuse(frame: dict) -> go.Figure:
    """A new figure from `frame`, the `to_plotly_json()` of a figure built and validated once, without
    validating it again (building and validating a small figure costs ~10 ms here, this ~1 ms). Builders
    that run on every stroke or click cache their figure without its data (`@cache` on the structure's
    parameters), then assign the data, which Plotly validates as usual. The frame is deep-copied: figures
    never share state, and later changes to the figure are validated as usual."""
    fig = go.Figure(copy.deepcopy(frame), _validate=False)
    for obj in (fig, fig.layout, *fig.data):
        obj._validate = True
    return fig


def _rgba(color: str, alpha: float) -> str:
    """'#RRGGBB' -> 'rgba(r,g,b,alpha)' (for translucent bands)."""
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _image_range(image: np.ndarray) -> tuple[float, float]:
    """0-255 for pixel data, 0-1 for images already scaled to [0, 1]."""
    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return (0.0, 1.0) if finite.size and finite.max() <= 1.0 and finite.min() >= 0.0 else (0.0, 255.0)


def _square_image_axes(fig: go.Figure) -> None:
    """imshow-like axes: y down, square pixels, no gridlines."""
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(
        showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x", constrain="domain"
    )


def _empty_annotation(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font=dict(size=14, color="#888"),
    )


def _is_fraction(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size) and v.min() >= 0.0 and v.max() <= 1.0


def _log_ticks(values: np.ndarray) -> list[float]:
    """1-2-5 ticks covering the positive values, for a log axis."""
    v = values[np.isfinite(values) & (values > 0)]
    if not v.size:
        return []
    lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
    ticks = [m * 10.0**k for k in range(int(lo), int(hi) + 1) for m in (1, 2, 5)]
    return [t for t in ticks if v.min() / 2 <= t <= v.max() * 2]


def variant_colors(variants: Sequence[str]) -> dict[str, str]:
    """A colour per variant name, assigned in sorted order so every chart of the same runs agrees."""
    names = sorted({str(v) for v in variants})
    return {name: VARIANT_COLORS[i % len(VARIANT_COLORS)] for i, name in enumerate(names)}


def _tile_coords(h: int, w: int) -> np.ndarray:
    """(h, w, 2) [row, col] of each pixel, for hover text inside a tiled image."""
    rows, cols = np.indices((h, w))
    return np.stack([rows, cols], axis=-1)


def _add_tiles(
    fig: go.Figure,
    images: np.ndarray,
    captions: Sequence[str],
    *,
    cols: int,
    coloraxis: str,
    caption_space: int = 7,
    gap: int = 2,
    row: int | None = None,
    col: int | None = None,
    value_format: str = "%{z}",
) -> tuple[int, int]:
    """Place each image as its own heatmap on one pair of axes (one trace per image is far lighter
    in the browser than one subplot per image). Returns the mosaic's (height, width) in pixels."""
    n, h, w = images.shape
    pitch_x, pitch_y = w + gap, h + caption_space
    coords = _tile_coords(h, w)
    xref, yref = "x", "y"
    if row is not None:
        axis = fig.get_subplot(row, col)
        xref, yref = axis.xaxis.plotly_name.replace("axis", ""), axis.yaxis.plotly_name.replace("axis", "")
    traces, notes = [], []
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = c * pitch_x, r * pitch_y
        traces.append(
            go.Heatmap(
                z=images[i],
                x0=x0,
                dx=1,
                y0=y0,
                dy=1,
                coloraxis=coloraxis,
                customdata=coords,
                name=captions[i],
                xaxis=xref,
                yaxis=yref,
                hovertemplate=f"<b>{captions[i]}</b><br>row %{{customdata[0]}}, col %{{customdata[1]}}"
                f"<br>value {value_format}<extra></extra>",
            )
        )
        notes.append(
            dict(
                text=captions[i],
                x=x0 + (w - 1) / 2,
                y=y0 + h - 0.5,
                xref=xref,
                yref=yref,
                yanchor="top",
                showarrow=False,
                font=dict(size=11),
            )
        )
    # One add_traces/update_layout call: adding 30 traces one by one costs ~0.5 s of validation.
    fig.add_traces(traces)
    fig.update_layout(annotations=list(fig.layout.annotations) + notes)
    n_rows = -(-n // cols) if n else 0
    return n_rows * pitch_y, min(n, cols) * pitch_x - gap


# --------------------------------------------------------------------------------------------- images


def image_grid(
    images: np.ndarray, captions: list[str], *, cols: int = 8, height: int | None = None, title: str = ""
) -> go.Figure:
    """A grid of (n, 28, 28) images, each captioned underneath; hover gives row, col and value."""
    images = np.asarray(images)
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    fig = go.Figure()
    if len(images) == 0:
        _empty_annotation(fig, "No images")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _style(fig, title=title, height=height or 200)
    cols = max(1, min(cols, len(images)))
    mosaic_h, mosaic_w = _add_tiles(fig, images, captions, cols=cols, coloraxis="coloraxis")
    lo, hi = _image_range(images)
    fig.update_layout(coloraxis=dict(colorscale=GRAY_SCALE, cmin=lo, cmax=hi, showscale=False))
    _square_image_axes(fig)
    fig.update_xaxes(visible=False, range=[-0.5, mosaic_w - 0.5])
    fig.update_yaxes(visible=False, range=[mosaic_h - 0.5, -0.5])
    # Tiles are square; guess the height from a typical wide-layout width (~1100 px).
    auto_height = int(1100 * mosaic_h / max(mosaic_w, 1) * min(1.0, cols / 8)) + 30
    return _style(fig, title=title, height=height or min(max(auto_height, 160), 1400), legend=False)


def image_heatmap(image: np.ndarray, *, title: str = "", height: int = 420) -> go.Figure:
    """One image, large: gray colormap (0 black), colorbar, square pixels, row 0 on top (as imshow);
    hovering a pixel shows its row, column and value."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    lo, hi = _image_range(image)
    fig = _reuse(_image_heatmap_frame(image.shape, lo, hi, title, height))
    fig.data[0].z = image  # validated, like any assignment
    return fig


@cache
def _image_heatmap_frame(shape: tuple[int, ...], lo: float, hi: float, title: str, height: int) -> dict:
    """image_heatmap's figure without its pixels, for images of one shape and range."""
    fig = go.Figure(
        go.Heatmap(
            colorscale=GRAY_SCALE,
            zmin=lo,
            zmax=hi,
            colorbar=dict(title=dict(text="value"), thickness=10, xpad=4),
            hovertemplate="row %{y}, col %{x}<br>value %{z}<extra></extra>",
        )
    )
    _square_image_axes(fig)
    fig.update_xaxes(title_text="col", range=[-0.5, shape[1] - 0.5], title_standoff=4)
    fig.update_yaxes(title_text="row", range=[shape[0] - 0.5, -0.5], title_standoff=4)
    return _style(fig, title=title, height=height, legend=False).to_plotly_json()


def mean_std_images(
    means: np.ndarray,
    stds: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    cols: int = 10,
    title: str = "",
) -> go.Figure:
    """Two panels of per-class images: the mean image (gray, 0-255) and the per-pixel standard
    deviation (viridis). Where a class varies, its std is bright."""
    means, stds = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64)
    if means.shape != stds.shape or means.ndim != 3:
        raise ValueError(f"means and stds must both be (classes, h, w), got {means.shape}, {stds.shape}")
    captions = [f"{i} · {name}" for i, name in enumerate(class_names[: len(means)])]
    fig = make_subplots(
        rows=2,
        cols=1,
        subplot_titles=("Mean image", "Per-pixel standard deviation"),
        vertical_spacing=0.1,
    )
    mosaic_h, mosaic_w = _add_tiles(
        fig, means, captions, cols=cols, coloraxis="coloraxis", row=1, col=1, value_format="%{z:.1f}"
    )
    _add_tiles(fig, stds, captions, cols=cols, coloraxis="coloraxis2", row=2, col=1, value_format="%{z:.1f}")
    std_max = float(np.nanmax(stds)) if np.isfinite(stds).any() else 1.0
    fig.update_layout(
        coloraxis=dict(
            colorscale=GRAY_SCALE,
            cmin=0,
            cmax=255,
            colorbar=dict(title=dict(text="mean"), thickness=12, len=0.42, y=0.78, yanchor="middle"),
        ),
        coloraxis2=dict(
            colorscale="Viridis",
            cmin=0,
            cmax=std_max,
            colorbar=dict(title=dict(text="std"), thickness=12, len=0.42, y=0.22, yanchor="middle"),
        ),
    )
    for r in (1, 2):
        fig.update_xaxes(visible=False, range=[-0.5, mosaic_w - 0.5], row=r, col=1)
        fig.update_yaxes(visible=False, range=[mosaic_h - 0.5, -0.5], row=r, col=1)
    fig.update_xaxes(constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=2, col=1)
    n_rows = -(-len(means) // cols)
    height = int(2 * 1050 * (n_rows * (means.shape[1] + 7)) / mosaic_w) + 110
    return _style(fig, title=title, height=min(max(height, 320), 1400), legend=False)


def saliency_overlay(
    image: np.ndarray, saliency: np.ndarray, *, title: str = "", height: int = 420
) -> go.Figure:
    """The image in gray with a semi-transparent heat layer on top (saliency scaled to its max |value|)."""
    image, saliency = np.asarray(image), np.asarray(saliency, dtype=np.float64)
    if image.shape != saliency.shape:
        raise ValueError(f"image {image.shape} and saliency {saliency.shape} differ in shape")
    peak = float(np.nanmax(np.abs(saliency))) if saliency.size else 0.0
    relative = np.abs(saliency) / peak if peak > 0 else np.zeros_like(saliency)
    lo, hi = _image_range(image)
    fig = _reuse(_saliency_overlay_frame(image.shape, lo, hi, title, height))
    fig.data[0].z = image  # validated, like any assignment
    fig.data[1].update(z=relative, customdata=image)
    return fig


@cache
def _saliency_overlay_frame(shape: tuple[int, ...], lo: float, hi: float, title: str, height: int) -> dict:
    """saliency_overlay's figure without its pixels, for images of one shape and range."""
    fig = go.Figure(
        [
            go.Heatmap(
                colorscale=GRAY_SCALE,
                zmin=lo,
                zmax=hi,
                showscale=False,
                hoverinfo="skip",
                name="image",
            ),
            go.Heatmap(
                colorscale=SALIENCY_SCALE,
                zmin=0,
                zmax=1,
                name="saliency",
                colorbar=dict(title=dict(text="saliency"), thickness=12),
                hovertemplate="row %{y}, col %{x}<br>pixel %{customdata}<br>saliency %{z:.2f}<extra></extra>",
            ),
        ]
    )
    _square_image_axes(fig)
    fig.update_xaxes(range=[-0.5, shape[1] - 0.5])
    fig.update_yaxes(range=[shape[0] - 0.5, -0.5])
    return _style(fig, title=title, height=height, legend=False).to_plotly_json()


# --------------------------------------------------------------------------------------------- dataset


def class_distribution(
    counts_by_split: Mapping[str, np.ndarray], class_names: Sequence[str] = CLASS_NAMES, *, title: str = ""
) -> go.Figure:
    """Grouped bars: images per class, one bar colour per split; hover adds the share of the split."""
    fig = go.Figure()
    palette = list(SPLIT_COLORS.values())
    for i, (split, counts) in enumerate(counts_by_split.items()):
        counts = np.asarray(counts, dtype=np.int64)
        total = counts.sum()
        share = counts / total if total else np.zeros(len(counts))
        fig.add_trace(
            go.Bar(
                x=list(class_names),
                y=counts,
                name=split,
                marker_color=SPLIT_COLORS.get(split, palette[i % len(palette)]),
                customdata=share,
                text=counts,
                texttemplate="%{text:,}",
                textposition="outside",
                textfont=dict(size=10),
                cliponaxis=False,
                hovertemplate=f"{split}<br>%{{x}}: %{{y:,}} images (%{{customdata:.1%}})<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_yaxes(title_text="images", tickformat=",")
    return _style(fig, title=title, height=360)


def pca_scatter(
    coords: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    explained: Sequence[float] | None = None,
    selected: int | None = None,
    title: str = "",
    height: int = 540,
) -> go.Figure:
    """2-D projection, one trace per class (click the legend to hide a class). Each point's customdata
    is its image index in the split, so a selection can be turned back into the image.
    `selected` (an image index) is ringed."""
    coords, labels, indices = np.asarray(coords), np.asarray(labels), np.asarray(indices)
    fig = go.Figure()
    for c, name in enumerate(class_names):
        mask = labels == c
        if not mask.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
                name=f"{c} · {name}",
                marker=dict(color=CLASS_COLORS[c % len(CLASS_COLORS)], size=5, opacity=0.75),
                customdata=indices[mask],
                hovertemplate=f"<b>#%{{customdata}}</b> · {c} · {name}<br>"
                "PC1 %{x:.2f}, PC2 %{y:.2f}<extra></extra>",
            )
        )
    if selected is not None:
        hit = np.flatnonzero(indices == selected)
        if hit.size:
            i = hit[0]
            fig.add_trace(
                go.Scatter(
                    x=[coords[i, 0]],
                    y=[coords[i, 1]],
                    mode="markers",
                    name="selected",
                    showlegend=False,
                    customdata=[int(selected)],
                    marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color="black", width=2)),
                    hovertemplate="<b>#%{customdata}</b> (selected)<extra></extra>",
                )
            )
    ev = list(explained) if explained is not None else [None, None]
    for axis, k in (("x", 0), ("y", 1)):
        label = f"PC{k + 1}" + (f" ({ev[k]:.1%} of variance)" if ev[k] is not None else "")
        fig.update_layout({f"{axis}axis": dict(title=dict(text=label), zeroline=False)})
    fig.update_layout(legend=dict(itemsizing="constant"), dragmode="zoom")
    fig = _style(fig, title=title, height=height)
    # A vertical legend beside the cloud reads better than a long horizontal one here; the top
    # margin keeps Plotly's toolbar (select/lasso tools) off the legend.
    fig.update_layout(
        legend=dict(orientation="v", y=1, yanchor="top", x=1.01, xanchor="left"),
        margin=dict(t=max(fig.layout.margin.t or 0, 40)),
    )
    return fig


def pixel_histograms(
    edges: np.ndarray,
    counts: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    classes: Sequence[int] | None = None,
    normalize: bool = True,
    log_y: bool = False,
    title: str = "",
) -> go.Figure:
    """Pixel-intensity distribution of each class as overlaid step lines (one colour per class).
    `counts` is (classes, bins) over `edges` (bins+1,); with normalize, each class sums to 1."""
    edges, counts = np.asarray(edges, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    lows, highs = edges[:-1], edges[1:] - 1
    fig = go.Figure()
    shown = range(len(counts)) if classes is None else [int(c) for c in classes]
    for c in shown:
        y = counts[c]
        if normalize:
            total = y.sum()
            y = y / total if total else y
        fig.add_trace(
            go.Scatter(
                x=centers,
                y=y,
                mode="lines",
                line=dict(shape="hvh", width=1.8, color=CLASS_COLORS[c % len(CLASS_COLORS)]),
                name=f"{c} · {class_names[c]}",
                customdata=np.stack([lows, highs], axis=-1),
                hovertemplate=f"{c} · {class_names[c]}<br>values %{{customdata[0]:.0f}}–%{{customdata[1]:.0f}}: "
                + ("%{y:.2%}" if normalize else "%{y:,.0f}")
                + "<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="pixel value (0 = black background, 255 = white)", range=[0, 256])
    fig.update_yaxes(
        title_text="share of the class's pixels" if normalize else "pixels",
        type="log" if log_y else "linear",
        tickformat=".0%" if normalize and not log_y else None,
    )
    if log_y and fig.data:
        values = np.concatenate([np.asarray(t.y, dtype=np.float64) for t in fig.data])
        tickvals = _log_ticks(values)
        if tickvals:
            # Plotly labels minor log ticks with bare digits ("2", "5"); name every tick in full.
            fig.update_yaxes(
                tickvals=tickvals,
                ticktext=[f"{v:.2g}" if not normalize else f"{v * 100:.2g}%" for v in tickvals],
            )
    fig.update_layout(hovermode="x unified", showlegend=True)  # name the class even when only one is shown
    return _style(fig, title=title, height=420)


# --------------------------------------------------------------------------------------------- training


def ema(values: Sequence[float], weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so the start is not pulled to 0.
    weight 0 returns the values; NaNs are carried through without resetting the average."""
    v = np.asarray(values, dtype=np.float64)
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    if weight == 0.0 or len(v) == 0:
        return v.copy()
    out = np.empty_like(v)
    last, n = 0.0, 0
    for i, x in enumerate(v):
        if np.isfinite(x):
            last = last * weight + (1 - weight) * x
            n += 1
            out[i] = last / (1 - weight**n)
        else:
            out[i] = np.nan
    return out


def training_curves(
    points: pd.DataFrame,
    *,
    metric: str = "accuracy",
    title: str = "",
    smoothing: float = 0.0,
    log_y: bool = False,
    x_unit: str = "epochs",
    images_per_epoch: int | None = None,
    height: int = 380,
) -> go.Figure:
    """Learning curves of one run against progress in epochs (or images seen).

    Batch rows are Keras' running means within the epoch (drawn as a thin line that restarts each
    epoch); epoch rows give the epoch's training metric and the validation metric (markers+lines).
    `smoothing` (TensorBoard's EMA weight) smooths the within-epoch line and keeps the raw one faint
    behind it; `log_y` puts loss on a log axis; `x_unit="images"` needs `images_per_epoch`.
    Works with no rows (axes + a waiting note) and with batch rows only.
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    if x_unit not in ("epochs", "images"):
        raise ValueError(f"x_unit must be 'epochs' or 'images', got {x_unit!r}")
    scale = float(images_per_epoch) if x_unit == "images" and images_per_epoch else 1.0
    x_title = "images seen" if scale != 1.0 else "epoch"
    x_hover = "%{x:,.0f} images" if scale != 1.0 else "epoch %{x:.2f}"
    fig = go.Figure()
    is_acc = metric == "accuracy"
    y_fmt = ".2%" if is_acc else ".4f"
    df = points if points is not None else pd.DataFrame()
    if len(df) and metric in df:
        batch = df[df["kind"] == "batch"].dropna(subset=[metric])
        if len(batch):
            batch = batch.sort_values("progress", kind="stable")
            x: list[float | None] = []
            y: list[float | None] = []
            prev_epoch = None
            for epoch, prog, value in zip(batch["epoch"], batch["progress"], batch[metric], strict=True):
                if prev_epoch is not None and epoch != prev_epoch:
                    x.append(None)  # the running mean restarts each epoch: do not join epochs
                    y.append(None)
                x.append(float(prog) * scale)
                y.append(float(value))
                prev_epoch = epoch
            raw = np.array([np.nan if v is None else v for v in y], dtype=np.float64)
            if smoothing > 0:
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines",
                        name="train, raw",
                        line=dict(color=BATCH_COLOR, width=1),
                        opacity=0.35,
                        connectgaps=False,
                        showlegend=False,
                        hoverinfo="skip",
                    )
                )
                y = [None if not np.isfinite(v) else float(v) for v in ema(raw, smoothing)]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name="train, running mean" + (" (smoothed)" if smoothing > 0 else ""),
                    line=dict(color=BATCH_COLOR if smoothing == 0 else TRAIN_COLOR, width=1.2),
                    connectgaps=False,
                    hovertemplate=f"{x_hover}<br>{metric} (running mean) %{{y:{y_fmt}}}<extra></extra>",
                )
            )
        epoch_rows = df[df["kind"] == "epoch"].sort_values("progress", kind="stable")
        for col, name, color, dash in (
            (metric, "train, epoch end", TRAIN_COLOR, None),
            (f"val_{metric}", "validation", VAL_COLOR, None),
        ):
            if col not in epoch_rows:
                continue
            rows = epoch_rows.dropna(subset=[col])
            if not len(rows):
                continue
            fig.add_trace(
                go.Scatter(
                    x=rows["progress"].astype(float) * scale,
                    y=rows[col].astype(float),
                    mode="lines+markers",
                    name=name,
                    line=dict(color=color, width=2.2, dash=dash),
                    marker=dict(size=7),
                    customdata=rows["epoch"],
                    hovertemplate=f"epoch %{{customdata}}<br>{name} {metric} %{{y:{y_fmt}}}<extra></extra>",
                )
            )
    if not fig.data:
        _empty_annotation(fig, WAITING)
        fig.update_xaxes(range=[0, scale])
        fig.update_yaxes(range=[0, 1])
    fig.update_xaxes(title_text=x_title, rangemode="tozero")
    log = log_y and not is_acc and bool(fig.data)
    fig.update_yaxes(
        title_text=metric + (" (log scale)" if log else ""),
        tickformat=".3~p" if is_acc else None,
        type="log" if log else None,
    )
    # Always show the legend: with batch rows only, it is what says the line is a running mean.
    # "x unified": one hover box lists every series at that x, as TensorBoard's does.
    fig.update_layout(hovermode="x unified", showlegend=bool(fig.data))
    return _style(fig, title=title, height=height)


def _epoch_table(points: pd.DataFrame, value: pd.Series) -> pd.DataFrame:
    """Epoch rows as (run_id, variant, seed, epoch, value), the last row per run and epoch."""
    df = points.assign(_value=value)
    df = df[(df["kind"] == "epoch")].dropna(subset=["_value"])
    df = df.sort_values(["run_id", "epoch", "progress"], kind="stable")
    return df.drop_duplicates(subset=["run_id", "epoch"], keep="last")


def _variant_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Per epoch over the runs that reached it: mean, std (sample; 0 for one run), n."""
    g = df.groupby("epoch")["_value"]
    stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.size()}).reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    return stats


def _band(
    x: np.ndarray, upper: np.ndarray, lower: np.ndarray, *, color: str, name: str, group: str
) -> go.Scatter:
    """A translucent band between `lower` and `upper` over `x`, grouped with its line in the legend."""
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([upper, lower[::-1]]),
        fill="toself",
        fillcolor=_rgba(color, 0.18),
        line=dict(width=0),
        mode="lines",
        name=name,
        legendgroup=group,
        showlegend=False,
        hoverinfo="skip",
    )


def _add_mean_band(
    fig: go.Figure, stats: pd.DataFrame, *, variant: str, color: str, n_runs: int, y_fmt: str
) -> None:
    x = stats["epoch"].to_numpy(dtype=float)
    upper = (stats["mean"] + stats["std"]).to_numpy()
    lower = (stats["mean"] - stats["std"]).to_numpy()
    if (stats["n"] >= 2).any():
        fig.add_trace(_band(x, upper, lower, color=color, name=f"{variant} ±1 std", group=variant))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=stats["mean"],
            mode="lines+markers",
            name=f"{variant} (mean of {n_runs})" if n_runs > 1 else variant,
            legendgroup=variant,
            line=dict(color=color, width=3),
            marker=dict(size=6),
            customdata=np.stack([stats["std"], stats["n"]], axis=-1),
            hovertemplate=f"<b>{variant}</b> epoch %{{x}}<br>mean %{{y:{y_fmt}}} ± %{{customdata[0]:{y_fmt}}}"
            " (n=%{customdata[1]})<extra></extra>",
        )
    )


def compare_curves(points: pd.DataFrame, *, metric: str = "val_accuracy", title: str = "") -> go.Figure:
    """Runs of several variants (e.g. optimizers) x seeds, by epoch: a thin line per run in its variant's
    colour, and per variant the mean across seeds with a ±1 std band (over the runs that reached each
    epoch). Uses only kind == "epoch" rows."""
    fig = go.Figure()
    is_acc = metric.endswith("accuracy")
    y_fmt = ".2%" if is_acc else ".4f"
    if points is not None and len(points) and metric in points:
        df = _epoch_table(points, points[metric])
        colors = variant_colors(df["variant"].unique())
        for variant, vdf in sorted(df.groupby("variant"), key=lambda kv: str(kv[0])):
            variant = str(variant)
            color = colors[variant]
            run_ids = list(dict.fromkeys(vdf.sort_values(["seed", "run_id"])["run_id"]))
            for run_id in run_ids:
                run = vdf[vdf["run_id"] == run_id]
                seed = run["seed"].iloc[0]
                fig.add_trace(
                    go.Scatter(
                        x=run["epoch"],
                        y=run["_value"],
                        mode="lines",
                        name=f"{variant} · seed {seed}",
                        legendgroup=variant,
                        showlegend=False,
                        opacity=0.45,
                        line=dict(color=color, width=1),
                        hovertemplate=f"{variant} · seed {seed} (run {run_id})<br>epoch %{{x}}: "
                        f"%{{y:{y_fmt}}}<extra></extra>",
                    )
                )
            _add_mean_band(
                fig, _variant_stats(vdf), variant=variant, color=color, n_runs=len(run_ids), y_fmt=y_fmt
            )
    if not fig.data:
        _empty_annotation(fig, "No finished epochs yet")
    fig.update_xaxes(title_text="epoch", dtick=1 if fig.data else None)
    # ".3~p": three significant digits, trailing zeros dropped: a zoomed axis reads 72.5%, 73%, 73.5%
    fig.update_yaxes(title_text=_METRIC_LABELS.get(metric, metric), tickformat=".3~p" if is_acc else None)
    return _style(fig, title=title, height=420)


def train_val_gap(points: pd.DataFrame, *, metric: str = "accuracy", title: str = "") -> go.Figure:
    """Overfitting by variant: per epoch, the mean over seeds (±1 std band) of the train-validation gap,
    signed so that above zero means overfitting: accuracy - val_accuracy, or val_loss - loss."""
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    fig = go.Figure()
    is_acc = metric == "accuracy"
    y_fmt = ".2%" if is_acc else ".4f"
    val = f"val_{metric}"
    if points is not None and len(points) and metric in points and val in points:
        gap = points[metric] - points[val] if is_acc else points[val] - points[metric]
        df = _epoch_table(points, gap)
        colors = variant_colors(df["variant"].unique())
        for variant, vdf in sorted(df.groupby("variant"), key=lambda kv: str(kv[0])):
            variant = str(variant)
            _add_mean_band(
                fig,
                _variant_stats(vdf),
                variant=variant,
                color=colors[variant],
                n_runs=vdf["run_id"].nunique(),
                y_fmt=y_fmt,
            )
    if not fig.data:
        _empty_annotation(fig, "No finished epochs yet")
    fig.add_hline(y=0, line=dict(color="#999", width=1, dash="dot"))
    label = "train − validation accuracy" if is_acc else "validation − train loss"
    fig.update_xaxes(title_text="epoch", dtick=1 if fig.data else None)
    fig.update_yaxes(title_text=f"{label} (> 0: overfitting)", tickformat=".1%" if is_acc else None)
    return _style(fig, title=title, height=380)


# --------------------------------------------------------------------------------------------- evaluation


def confusion_matrix_figure(
    cm: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    normalize: bool = True,
    title: str = "",
    selectable: bool = False,
    selected: tuple[int, int] | None = None,
) -> go.Figure:
    """Heatmap of a confusion matrix, rows = true class, columns = predicted. With normalize, colour
    and text are the share of each true class (rows sum to 100%); otherwise raw counts. Hover gives both.
    Empty cells carry no text, so the mistakes stand out.

    `selectable`: a transparent marker on every cell makes cells clickable (Plotly cannot select heatmap
    cells); the clicked (or `selected`) cell gets an outline. Its point index is row * n + column."""
    cm = np.asarray(cm, dtype=np.int64)
    row_totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_totals, out=np.zeros(cm.shape), where=row_totals > 0)
    if normalize:
        z = share
        text = [
            [f"{v:.1%}" if n else "" for v, n in zip(srow, crow, strict=True)]
            for srow, crow in zip(share, cm, strict=True)
        ]
    else:
        z = cm
        text = [[f"{n}" if n else "" for n in crow] for crow in cm]
    names = list(class_names)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=11),
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalize else None,
            customdata=np.stack([cm, share], axis=-1),
            colorbar=dict(
                title=dict(text="share of true" if normalize else "count", side="right"), thickness=12
            ),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[0]} images "
            "(%{customdata[1]:.1%} of true)<extra></extra>",
        )
    )
    if selectable:
        _add_cell_markers(fig, cm, share, names, selected)
    fig.update_xaxes(title_text="predicted", tickangle=-35, showgrid=False, side="bottom")
    fig.update_yaxes(title_text="true", autorange="reversed", showgrid=False)
    return _style(fig, title=title, height=560, legend=False)


def _add_cell_markers(
    fig: go.Figure, cm: np.ndarray, share: np.ndarray, names: list[str], selected: tuple[int, int] | None
) -> None:
    n = len(names)
    rows, cols = np.divmod(np.arange(n * n), n)
    fig.data[0].hoverinfo = "skip"  # the markers carry the hover (a click lands on what hovers)
    fig.add_trace(
        go.Scatter(
            x=[names[c] for c in cols],
            y=[names[r] for r in rows],
            mode="markers",
            marker=dict(symbol="square-open", size=34, color="#ff7f0e", line=dict(width=3), opacity=0),
            selected=dict(marker=dict(opacity=1)),
            unselected=dict(marker=dict(opacity=0)),
            selectedpoints=[selected[0] * n + selected[1]] if selected else None,
            customdata=np.stack([cm.reshape(-1), share.reshape(-1)], axis=-1),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[0]} images "
            "(%{customdata[1]:.1%} of true)<br>click to see them<extra></extra>",
            showlegend=False,
        )
    )


def probability_bars(
    probs: np.ndarray, class_names: Sequence[str] = CLASS_NAMES, *, top: int | None = None, title: str = ""
) -> go.Figure:
    """Horizontal bars of class probabilities, highest on top, the winner highlighted."""
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    if len(probs) != len(class_names):
        raise ValueError(f"{len(probs)} probabilities but {len(class_names)} class names")
    order = np.argsort(-probs, kind="stable")
    if top is not None:
        order = order[: max(1, top)]
    fig = _reuse(_probability_bars_frame(len(order), title))
    fig.data[0].update(  # validated, like any assignment
        x=probs[order],
        y=[f"{i} · {class_names[i]}" for i in order],
        text=[f"{p:.1%}" for p in probs[order]],
    )
    return fig


@cache
def _probability_bars_frame(n: int, title: str) -> dict:
    """probability_bars' figure for n bars, without their values and labels."""
    fig = go.Figure(
        go.Bar(
            orientation="h",
            marker_color=[HIGHLIGHT if k == 0 else MUTED for k in range(n)],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title_text="probability")
    fig.update_yaxes(autorange="reversed")
    return _style(fig, title=title, height=60 + 30 * n, legend=False).to_plotly_json()


def leaderboard_bars(
    summary: pd.DataFrame,
    *,
    value: str = "mean",
    error: str = "std",
    label: str = "variant",
    title: str = "",
) -> go.Figure:
    """Horizontal bars with ±error whiskers, best (highest value) on top and highlighted; each bar's
    value ± error stands in a column right of the plot area, level with its bar, where no bar or whisker
    reaches (a label inside or beside a bar collides with its whisker). Values in [0, 1] are shown as
    percentages."""
    df = summary.sort_values(value, ascending=False, kind="stable").reset_index(drop=True)
    values = df[value].to_numpy(dtype=np.float64)
    errors = df[error].to_numpy(dtype=np.float64) if error in df else np.full(len(df), np.nan)
    as_pct = _is_fraction(values)

    def fmt(v: float) -> str:
        return f"{v:.2%}" if as_pct else f"{v:.4g}"

    text = [fmt(v) + (f" ± {fmt(e)}" if np.isfinite(e) else "") for v, e in zip(values, errors, strict=True)]
    text = [("★ " if i == 0 else "") + t for i, t in enumerate(text)]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=df[label].astype(str),
            orientation="h",
            marker_color=[HIGHLIGHT if i == 0 else MUTED for i in range(len(df))],
            error_x=dict(type="data", array=np.nan_to_num(errors), visible=bool(np.isfinite(errors).any())),
            text=text,
            textposition="none",  # the labels are the column of annotations below; the text is for hover
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    for i, (y, t) in enumerate(zip(df[label].astype(str), text, strict=True)):
        fig.add_annotation(
            x=1.0,
            xref="paper",
            xanchor="left",
            xshift=8,
            y=y,
            yref="y",
            text=t,
            showarrow=False,
            font=dict(color=HIGHLIGHT if i == 0 else "#1f2a36", size=13),
        )
    top = np.nanmax(values + np.nan_to_num(errors)) if len(values) else 1.0
    low = 0.0
    if as_pct and len(values):
        # Accuracies of competing optimizers differ by a point or two: from 0 the bars would look equal.
        # Start the axis a little below the lowest whisker (on a 5% grid) and say so in the axis title.
        low = max(0.0, np.floor((np.nanmin(values - np.nan_to_num(errors)) - 0.02) * 20) / 20)
    span = (top - low) if top > low else 1.0
    axis_title = value if low == 0 else f"{value} (axis starts at {low:.0%})"
    fig.update_xaxes(
        title_text=axis_title, tickformat=".0%" if as_pct else None, range=[low, top + 0.06 * span]
    )
    fig.update_yaxes(autorange="reversed")
    fig = _style(fig, title=title, height=110 + 44 * max(len(df), 1), legend=False)
    # room for the label column: about 7.5 px a character at 13 px type
    fig.update_layout(margin=dict(r=24 + int(7.5 * max((len(t) for t in text), default=0))))
    return fig


# --------------------------------------------------------------------------------------------- inside the model


def weight_images_figure(
    images: np.ndarray, captions: Sequence[str], *, cols: int = 8, title: str = "", height: int | None = None
) -> go.Figure:
    """Weights as images in a diverging colour scale centred on 0 (red positive, blue negative, white 0),
    one scale shared by every tile so that strong and weak units compare; hover gives the weight."""
    images = np.asarray(images, dtype=np.float64)
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    fig = go.Figure()
    cols = max(1, min(cols, len(images)))
    h = images.shape[1]
    mosaic_h, mosaic_w = _add_tiles(
        fig,
        images,
        captions,
        cols=cols,
        coloraxis="coloraxis",
        caption_space=max(2, h // 4),
        gap=max(1, h // 14),
        value_format="%{z:.3f}",
    )
    bound = float(np.nanmax(np.abs(images))) if images.size else 1.0
    fig.update_layout(
        coloraxis=dict(
            colorscale="RdBu_r",
            cmin=-bound,
            cmax=bound,
            cmid=0,
            colorbar=dict(title=dict(text="weight", side="right"), thickness=10),
        )
    )
    _square_image_axes(fig)
    fig.update_xaxes(visible=False, range=[-0.5, mosaic_w - 0.5])
    fig.update_yaxes(visible=False, range=[mosaic_h - 0.5, -0.5])
    auto = int(900 * mosaic_h / max(mosaic_w, 1)) + 30
    return _style(fig, title=title, height=height or min(max(auto, 140), 900), legend=False)


def feature_maps_figure(
    maps: np.ndarray, *, cols: int = 8, title: str = "", height: int | None = None
) -> go.Figure:
    """A conv layer's output channels for one image, each on its own scale (dark 0, bright strongest)."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = maps.reshape(len(maps), -1).max(axis=1) if maps.size else np.zeros(0)
    scaled = maps / np.where(peak > 0, peak, 1.0)[:, None, None]
    captions = [f"ch. {i + 1}" for i in range(len(maps))]
    fig = go.Figure()
    cols = max(1, min(cols, len(maps)))
    h = maps.shape[1] if maps.ndim == 3 else 28
    mosaic_h, mosaic_w = _add_tiles(
        fig,
        scaled,
        captions,
        cols=cols,
        coloraxis="coloraxis",
        caption_space=max(2, h // 4),
        gap=max(1, h // 14),
        value_format="%{z:.2f} of the channel's peak",
    )
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, showscale=False))
    _square_image_axes(fig)
    fig.update_xaxes(visible=False, range=[-0.5, mosaic_w - 0.5])
    fig.update_yaxes(visible=False, range=[mosaic_h - 0.5, -0.5])
    auto = int(900 * mosaic_h / max(mosaic_w, 1)) + 30
    return _style(fig, title=title, height=height or min(max(auto, 120), 700), legend=False)


def per_class_accuracy_figure(
    accuracy: np.ndarray, class_names: Sequence[str] = CLASS_NAMES, *, title: str = ""
) -> go.Figure:
    """Horizontal bars of the validation accuracy of each true class (recall), 0-100%."""
    acc = np.asarray(accuracy, dtype=np.float64)
    fig = go.Figure(
        go.Bar(
            x=acc,
            y=list(class_names),
            orientation="h",
            marker_color=HIGHLIGHT,
            text=[f"{a:.1%}" if np.isfinite(a) else "–" for a in acc],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1%} of its validation images right<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title_text="validation accuracy of the class")
    fig.update_yaxes(autorange="reversed")
    return _style(fig, title=title, height=420, legend=False)


def sweep_curves(
    table: pd.DataFrame,
    *,
    value: str = "val",
    best: dict[str, float] | None = None,
    title: str = "",
) -> go.Figure:
    """A learning-rate sweep: accuracy against learning rate (log axis), one curve per optimizer (mean
    over seeds, ±1 sample sd band), the chosen rate of each ringed. `table` is studies.sweep_table's:
    optimizer, learning_rate, n, `{value}_mean`, `{value}_std`."""
    fig = go.Figure()
    mean_col, std_col = f"{value}_mean", f"{value}_std"
    df = table.dropna(subset=[mean_col]) if table is not None and len(table) else pd.DataFrame()
    colors = variant_colors(df["optimizer"].unique()) if len(df) else {}
    for opt, g in df.groupby("optimizer", sort=False) if len(df) else ():
        opt = str(opt)
        g = g.sort_values("learning_rate")
        x, m = g["learning_rate"].to_numpy(float), g[mean_col].to_numpy(float)
        s = np.nan_to_num(g[std_col].to_numpy(float))
        if (g["n"] >= 2).any():
            fig.add_trace(_band(x, m + s, m - s, color=colors[opt], name=f"{opt} ±1 sd", group=opt))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=m,
                mode="lines+markers",
                name=opt,
                legendgroup=opt,
                line=dict(color=colors[opt], width=3),
                marker=dict(size=8),
                customdata=np.stack([s, g["n"].to_numpy(float)], axis=-1),
                hovertemplate=f"<b>{opt}</b> lr %{{x:g}}<br>mean %{{y:.2%}} ± %{{customdata[0]:.2%}}"
                " (n=%{customdata[1]})<extra></extra>",
            )
        )
        if best and opt in best:
            pick = g[g["learning_rate"] == best[opt]]
            fig.add_trace(
                go.Scatter(
                    x=pick["learning_rate"],
                    y=pick[mean_col],
                    mode="markers",
                    name=f"{opt}: best rate",
                    legendgroup=opt,
                    showlegend=False,
                    marker=dict(size=18, symbol="circle-open", color=colors[opt], line=dict(width=2)),
                    hovertemplate=f"<b>{opt}</b>: best rate %{{x:g}}<extra></extra>",
                )
            )
    if not fig.data:
        _empty_annotation(fig, "No finished runs yet")
    rates = df["learning_rate"].to_numpy(float) if len(df) else np.array([])
    fig.update_xaxes(
        title_text="learning rate", type="log", tickvals=_log_ticks(rates) or None, tickformat="~g"
    )
    label = "validation accuracy" if value == "val" else "test accuracy"
    fig.update_yaxes(title_text=f"{label} (mean ± sd over seeds)", tickformat=".3~p")
    return _style(fig, title=title, height=420)


def sketch_place_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    point: np.ndarray,
    *,
    explained: Sequence[float] | None = None,
    title: str = "",
    height: int = 480,
) -> go.Figure:
    """The explorer's PCA map with one more point, the user's drawing, as a black star on top."""
    fig = pca_scatter(coords, labels, indices, explained=explained, title=title, height=height)
    fig.add_trace(
        go.Scatter(
            x=[float(point[0])],
            y=[float(point[1])],
            mode="markers+text",
            name="your drawing",
            text=["your drawing"],
            textposition="top center",
            marker=dict(symbol="star", size=20, color="#111111", line=dict(color="white", width=1.5)),
            hovertemplate="<b>your drawing</b><br>PC1 %{x:.2f}, PC2 %{y:.2f}<extra></extra>",
        )
    )
    return fig


# ------------------------------------------------------------------------------------ runs overlaid

# Overlaid runs' colours: the variant palette without its orange and yellow, which sit too close to the
# current run's validation orange.
OVERLAY_COLORS: tuple[str, ...] = tuple(c for c in VARIANT_COLORS if c not in ("#E68310", "#F2B701"))


def _legend_text(name: str) -> str:
    """A run's name as Plotly text: its labels are user text, and Plotly renders tags in trace names."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def overlay_curves(
    fig: go.Figure,
    points_by_run: Mapping[str, pd.DataFrame],
    metric: str,
    *,
    dash: str = "dash",
    color_offset: int = 0,
) -> go.Figure:
    """Add one line per run (name -> its points) of `metric` at each epoch end, dashed by default, in
    distinct colours, to `fig`. Points need `epoch` and `metric` columns; with a `kind` column only the
    "epoch" rows count, and the last row of an epoch wins (a resumed run may repeat one). Runs with no
    value of `metric` add nothing. Returns `fig`."""
    is_acc = metric.endswith("accuracy")
    y_fmt = ".2%" if is_acc else ".4f"
    label = _METRIC_LABELS.get(metric, metric)
    for i, (name, points) in enumerate(points_by_run.items()):
        if points is None or not len(points) or metric not in points or "epoch" not in points:
            continue
        rows = points[points["kind"] == "epoch"] if "kind" in points else points
        rows = rows.dropna(subset=[metric]).sort_values("epoch", kind="stable")
        rows = rows.drop_duplicates(subset=["epoch"], keep="last")
        if not len(rows):
            continue
        text = _legend_text(str(name))
        fig.add_trace(
            go.Scatter(
                x=rows["epoch"].astype(float),
                y=rows[metric].astype(float),
                mode="lines+markers",
                name=text,
                line=dict(color=OVERLAY_COLORS[(i + color_offset) % len(OVERLAY_COLORS)], width=2, dash=dash),
                marker=dict(size=6),
                hovertemplate=f"{text}<br>epoch %{{x}}: {label} %{{y:{y_fmt}}}<extra></extra>",
            )
        )
    return fig


def overlay_figure(
    current: tuple[str, pd.DataFrame],
    others: Mapping[str, pd.DataFrame],
    *,
    metric: str = "val_accuracy",
    title: str = "",
    height: int = 360,
) -> go.Figure:
    """One run's `metric` per epoch as a solid line in the validation colour, and the other runs dashed
    on top of it (see `overlay_curves`)."""
    fig = go.Figure()
    name, points = current
    overlay_curves(fig, {name: points}, metric, dash="solid")
    if fig.data:
        fig.data[0].line.color = VAL_COLOR
        fig.data[0].line.width = 3
    overlay_curves(fig, others, metric)
    if not fig.data:
        _empty_annotation(fig, "No finished epochs yet")
    fig.update_xaxes(title_text="epoch", dtick=1 if fig.data else None)
    fig.update_yaxes(
        title_text=_METRIC_LABELS.get(metric, metric),
        tickformat=".3~p" if metric.endswith("accuracy") else None,
    )
    fig.update_layout(hovermode="x unified")
    return _style(fig, title=title, height=height)
