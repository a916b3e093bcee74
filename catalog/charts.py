"""Geometry for the statistics page's SVG charts, drawn by templates/catalog/stats.html.

Only numbers are computed here (positions and sizes in the SVG's own units); every label is
written by the template, so Django's autoescaping covers each value from the workbook. No
charting library: the charts are plain bars, and the page needs no JavaScript to show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
ROW_HEIGHT = 26
BAR_HEIGHT = 18
LABEL_WIDTH = 200  # the label column of a horizontal bar chart
VALUE_GAP = 6  # between a bar's end and its value
VALUE_WIDTH = 70  # room kept right of the longest bar for its value


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    share: float  # of the chart's total, 0-100
    y: int  # the row's top
    width: float  # the bar's length
    text_y: int  # the row's text baseline
    value_x: float  # where the value is written


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars, one row per label, longest value filling the bar area."""

    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int
    total: int


def bar_chart(rows: Sequence[tuple[object, int]]) -> BarChart:
    """Bars for (label, value) rows, in the given order."""
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    top = max((value for _label, value in rows), default=0) or 1
    total = sum(value for _label, value in rows)
    bars = []
    for index, (label, value) in enumerate(rows):
        y = index * ROW_HEIGHT
        width = round(area * value / top, 1)
        bars.append(
            Bar(
                label=str(label),
                value=value,
                share=round(100 * value / total, 1) if total else 0.0,
                y=y + (ROW_HEIGHT - BAR_HEIGHT) // 2,
                width=width,
                text_y=y + ROW_HEIGHT // 2 + 5,
                value_x=LABEL_WIDTH + width + VALUE_GAP,
            )
        )
    return BarChart(
        bars=bars,
        width=WIDTH,
        height=max(len(rows), 1) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        total=total,
    )


MONTH_CHART_HEIGHT = 240
MONTH_AXIS = 28  # room under the bars for the month names
MONTH_LEFT = 40  # room left of the bars for the scale
MONTH_TOP = 16


@dataclass(frozen=True, slots=True)
class Column:
    value: int
    x: float
    y: float
    height: float
    series: int  # 0: the year before, 1: the latest year


@dataclass(frozen=True, slots=True)
class MonthGroup:
    month: str
    label_x: float
    columns: list[Column]


@dataclass(frozen=True, slots=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True, slots=True)
class MonthChart:
    """Releases per month for two years side by side: twelve groups of two columns."""

    groups: list[MonthGroup]
    years: list[int]
    ticks: list[Tick]
    width: int
    height: int
    left: int
    baseline: float
    label_y: float
    column_width: float


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_chart(series: Sequence[tuple[int, Sequence[int]]]) -> MonthChart:
    """Columns for (year, [12 monthly counts]) series, the earlier year first."""
    plot_height = MONTH_CHART_HEIGHT - MONTH_AXIS - MONTH_TOP
    baseline = MONTH_TOP + plot_height
    top = max((n for _year, counts in series for n in counts), default=0) or 1
    group_width = (WIDTH - MONTH_LEFT) / 12
    column_width = round(group_width * 0.8 / max(len(series), 1), 1)
    groups = []
    for month_index, month in enumerate(MONTHS):
        start = MONTH_LEFT + month_index * group_width + group_width * 0.1
        columns = []
        for series_index, (_year, counts) in enumerate(series):
            height = round(plot_height * counts[month_index] / top, 1)
            columns.append(
                Column(
                    value=counts[month_index],
                    x=round(start + series_index * column_width, 1),
                    y=round(baseline - height, 1),
                    height=height,
                    series=series_index,
                )
            )
        groups.append(
            MonthGroup(
                month=month,
                label_x=round(MONTH_LEFT + (month_index + 0.5) * group_width, 1),
                columns=columns,
            )
        )
    # Up to five whole-number steps of the scale (fewer when the counts are small).
    ticks = [
        Tick(value=value, y=round(baseline - plot_height * value / top, 1))
        for value in sorted({round(top * step / 4) for step in range(5)})
    ]
    return MonthChart(
        groups=groups,
        years=[year for year, _counts in series],
        ticks=ticks,
        width=WIDTH,
        height=MONTH_CHART_HEIGHT,
        left=MONTH_LEFT,
        baseline=baseline,
        label_y=baseline + 18,
        column_width=column_width,
    )
