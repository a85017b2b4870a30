"""Charts drawn on the server as inline SVG: no chart library, no script.

Each function returns plain numbers for a template under `templates/cases/charts/` to
draw; every chart there carries a title, a one-sentence description and the same data
as a table, for screen readers and for print. A chart with nothing to show says instead
when it will fill in (`empty`), and the viewer's own answer is marked "you" (`mine`).
"""

from dataclasses import dataclass, field
from string import ascii_uppercase

WIDTH = 560
PLOT_HEIGHT = 180
TOP = 20
LEFT = 40
AXIS_LABEL_CHARACTERS = 6  # Longer labels go in a key under the chart, lettered A, B, …


@dataclass
class Bar:
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    series: str = ""

    @property
    def middle(self) -> float:
        return self.x + self.width / 2


@dataclass
class Histogram:
    title: str
    description: str
    labels: list[str]
    series: list[str]  # One name per series: "Before", "After"; or one empty name.
    counts: list[list[int]]  # counts[series][label]
    bars: list[Bar] = field(default_factory=list)
    peak: int = 0
    width: int = WIDTH
    height: int = PLOT_HEIGHT + TOP + 40
    baseline: int = PLOT_HEIGHT + TOP
    axis: list[tuple[str, float]] = field(default_factory=list)  # (text, x) under each slot
    keyed: bool = False  # The axis shows letters; the key under the chart names them.
    mine: int | None = None  # The label the viewer chose, marked "you".
    empty: str = "No answers yet."

    @property
    def rows(self):
        """The data table: one row per label, one count per series, and whether it is the
        viewer's own."""
        return [
            (label, [self.counts[s][i] for s in range(len(self.series))], i == self.mine)
            for i, label in enumerate(self.labels)
        ]

    @property
    def key(self):
        return [(text, label) for (text, _x), label in zip(self.axis, self.labels, strict=True)]

    @property
    def mine_x(self) -> float | None:
        return self.axis[self.mine][1] if self.mine is not None else None

    @property
    def mine_band(self) -> tuple[float, float] | None:
        """Where the band behind the viewer's own slot starts, and its width."""
        if self.mine is None:
            return None
        slot = (self.width - LEFT) / len(self.labels)
        return round(self.mine_x - slot / 2 + 2, 1), round(slot - 4, 1)


def histogram(
    title: str,
    description: str,
    labels: list[str],
    *series: tuple[str, list[int]],
    axis: list[str] | None = None,
    mine: int | None = None,
    empty: str = "No answers yet.",
):
    """Bars per label, side by side for each series (at most a few). Each slot's text on
    the axis sits under its middle: the label itself, the short `axis` text given, or a
    letter when a label is too long to stay readable on a phone."""
    names = [name for name, _counts in series]
    counts = [list(values) for _name, values in series]
    peak = max((max(values, default=0) for values in counts), default=0)
    chart = Histogram(title, description, labels, names, counts, peak=peak, mine=mine, empty=empty)
    slot = (WIDTH - LEFT) / max(1, len(labels))
    if axis is None:
        chart.keyed = any(len(label) > AXIS_LABEL_CHARACTERS for label in labels)
        axis = list(ascii_uppercase[: len(labels)]) if chart.keyed else labels
    chart.axis = [(text, round(LEFT + (i + 0.5) * slot, 1)) for i, text in enumerate(axis)]
    bar_width = (slot - 8) / max(1, len(series))
    for i, label in enumerate(labels):
        for s in range(len(names)):
            count = counts[s][i]
            height = PLOT_HEIGHT * count / peak if peak else 0
            chart.bars.append(
                Bar(
                    label=label,
                    count=count,
                    x=round(LEFT + i * slot + 4 + s * bar_width, 1),
                    y=round(TOP + PLOT_HEIGHT - height, 1),
                    width=round(bar_width - 2, 1),
                    height=round(height, 1),
                    series=f"s{s}",
                )
            )
    return chart


@dataclass
class Dot:
    label: str
    value: int
    x: float
    y: float


@dataclass
class DotRow:
    label: str
    dots: list[Dot]
    marker: int | None  # A reference position (the authors' placement), if shown.
    marker_x: float | None
    y: float  # The dots' line; the label sits above it, across the plot's width.
    mean: float | None

    @property
    def label_y(self) -> float:
        return self.y - 30

    @property
    def polarisation(self) -> float | None:
        """How split the placements are, 0 (all at one point) to 1 (half at each end):
        their standard deviation over the largest possible on a 0-100 scale, 50."""
        if len(self.dots) < 2:
            return None
        values = [d.value for d in self.dots]
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        return round(spread / 50, 2)


@dataclass
class DotPlot:
    title: str
    description: str
    rows: list[DotRow]
    width: int = WIDTH
    height: int = 0
    left: int = 20
    right: int = WIDTH - 20
    empty: str = "No placements yet."

    @property
    def has_data(self) -> bool:
        return any(row.dots or row.marker is not None for row in self.rows)

    @property
    def ticks(self):
        span = self.right - self.left
        return [(value, round(self.left + span * value / 100, 1)) for value in (0, 25, 50, 75, 100)]


def dot_plot(
    title: str,
    description: str,
    rows: list[tuple[str, list[int], int | None]],
    empty: str = "No placements yet.",
):
    """One row per label of 0-100 values (stacked where they coincide), with an optional
    reference marker per row. Each label has a line of its own above its row, so it stays
    whole and readable on a phone."""
    chart = DotPlot(title, description, [], empty=empty)
    span = chart.right - chart.left
    row_height = 64
    for r, (label, values, marker) in enumerate(rows):
        y = TOP + r * row_height + 50
        seen: dict[int, int] = {}
        dots = []
        for value in sorted(values):
            bucket = round(value / 2)
            stack = seen.get(bucket, 0)
            seen[bucket] = stack + 1
            dots.append(
                Dot(label, value, round(chart.left + span * value / 100, 1), y - 6 * (stack % 4))
            )
        chart.rows.append(
            DotRow(
                label=label,
                dots=dots,
                marker=marker,
                marker_x=round(chart.left + span * marker / 100, 1) if marker is not None else None,
                y=y,
                mean=round(sum(values) / len(values), 1) if values else None,
            )
        )
    chart.height = TOP + len(rows) * row_height + 30
    return chart
