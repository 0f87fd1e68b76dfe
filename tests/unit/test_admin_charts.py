"""The overview's deliveries chart: an axis that reads as a round number, one titled bar group per
day, nothing drawn for an empty day, and text that cannot break out of the SVG."""

from __future__ import annotations

from datetime import date

from syndicate.storage.admin_read import DayCount
from syndicate.web.admin.charts import _nice_max, deliveries_chart


def test_axis_maximum_is_round() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 12, 50, 51, 999)] == [1, 1, 5, 10, 20, 50, 100, 1000]


def test_bars_titles_and_empty_days() -> None:
    days = [DayCount(date(2026, 12, 1), 0, 0), DayCount(date(2026, 12, 2), 30, 10),
            DayCount(date(2026, 12, 3), 5, 0)]
    svg = deliveries_chart(days)
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert svg.count('class="sent"') == 2 and svg.count('class="failed"') == 1
    assert "<title>2026-12-01: 0 sent, 0 failed</title>" in svg
    assert "<title>2026-12-02: 30 sent, 10 failed</title>" in svg
    assert '>50</text>' in svg  # the axis top: 40 rounded up
    # The plot is 134 units high: 30 of 50 is a bar of 80.4, and the 10 failed stack on top of it,
    # so the day's stack reaches up to 12 + 134 - 107.2 = 38.8.
    assert 'height="80.4"' in svg and 'y="38.8" width="102.7" height="26.8"' in svg
    assert deliveries_chart([]).count("<rect") == 0
