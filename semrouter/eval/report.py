"""Markdown reports with PNG plots (``--report DIR``), and the plot helpers every command shares.

matplotlib is an optional dependency (the ``eval`` extra): a router deployment does not need it, and the
metrics JSON never does. It is imported on first plot, with the Agg backend, so reports render on
headless machines and in CI.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class ReportError(RuntimeError):
    """The report could not be written (matplotlib missing, directory not writable)."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError(
            "--report needs matplotlib: pip install 'semrouter[eval]' (the metrics JSON works without it)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats rounded, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


class Report:
    """A Markdown document assembled section by section; figures are saved next to it as PNG files."""

    def __init__(self, directory: str | Path, title: str) -> None:
        self.dir = Path(directory)
        self.parts = [f"# {title}\n"]
        self.figures: list[Path] = []
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create report directory {self.dir}: {exc.strerror}") from None

    def text(self, markdown: str) -> None:
        self.parts.append(markdown.strip() + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.parts.append(table(headers, rows) + "\n")

    def figure(self, name: str, fig: Figure, caption: str) -> None:
        path = self.dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        _pyplot().close(fig)
        self.figures.append(path)
        self.parts.append(f"![{caption}]({path.name})\n")

    def write(self, metrics: dict[str, Any]) -> Path:
        """``report.md`` plus ``metrics.json`` (the same object ``--json`` prints)."""
        (self.dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        path = self.dir / "report.md"
        path.write_text("\n".join(self.parts))
        return path


def confusion_heatmap(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str) -> Figure:
    plt = _pyplot()
    n = len(labels)
    size = max(4.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels=labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(title)
    top = max((max(row) for row in matrix), default=0)
    for i in range(n):
        for j in range(n):
            if matrix[i][j]:
                color = "white" if matrix[i][j] > top / 2 else "black"
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig  # type: ignore[no-any-return]


def roc_plot(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    points: dict[str, tuple[float, float]] | None = None,
    xlabel: str = "false-positive rate",
    ylabel: str = "recall (true-positive rate)",
) -> Figure:
    """One or more curves; ``points`` mark operating points (e.g. the configured threshold)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (x, y) in curves.items():
        ax.plot(x, y, label=name, drawstyle="default")
    for name, (x0, y0) in (points or {}).items():
        ax.plot([x0], [y0], "o", label=name)
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig  # type: ignore[no-any-return]


def bar_plot(
    names: Sequence[str],
    series: dict[str, Sequence[float | None]],
    title: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    annotate: bool = True,
) -> Figure:
    """Grouped bars: one group per name, one bar per series; a None value (no data) is labelled n/a."""
    plt = _pyplot()
    k = max(1, len(series))
    width = 0.8 / k
    fig, ax = plt.subplots(figsize=(min(14.0, max(4.5, 0.35 * len(names) * k + 2)), 4))
    for s, (label, values) in enumerate(series.items()):
        xs = [i + (s - (k - 1) / 2) * width for i in range(len(names))]
        bars = ax.bar(xs, [0.0 if v is None else v for v in values], width=width, label=label)
        if annotate:
            texts = ["n/a" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v) for v in values]
            ax.bar_label(bars, labels=texts, fontsize=7)
    ax.set_xticks(
        range(len(names)),
        labels=names,
        rotation=30 if len(names) > 4 else 0,
        ha="right" if len(names) > 4 else "center",
        rotation_mode="anchor",
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig  # type: ignore[no-any-return]


def scatter_plot(points: dict[str, tuple[float, float]], title: str, xlabel: str, ylabel: str) -> Figure:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, (x, y) in points.items():
        ax.plot([x], [y], "o", markersize=9)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig  # type: ignore[no-any-return]


def line_plot(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    title: str,
    xlabel: str,
    ylabel: str,
    vline: tuple[str, float] | None = None,
) -> Figure:
    """Curves over a shared x axis; ``vline`` marks one x value (e.g. the configured threshold)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in series.items():
        ax.plot(x, ys, label=name)
    if vline is not None:
        ax.axvline(vline[1], linestyle="--", color="grey", linewidth=1, label=vline[0])
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig  # type: ignore[no-any-return]
