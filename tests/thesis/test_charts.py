"""Server-drawn charts: the numbers the SVG templates draw, and the markup's text
alternatives."""

from django.template.loader import render_to_string

from cases.charts import dot_plot, histogram


def test_histogram_scales_bars_to_the_peak_and_keeps_the_data_table():
    chart = histogram(
        "Stance",
        "How the class answered.",
        ["1", "2", "3"],
        ("Before", [0, 2, 4]),
        ("After", [1, 1, 4]),
    )
    heights = {(b.label, b.series): b.height for b in chart.bars}
    assert heights[("3", "s0")] == 180 and heights[("2", "s0")] == 90
    assert heights[("1", "s0")] == 0
    assert chart.rows == [("1", [0, 1], False), ("2", [2, 1], False), ("3", [4, 4], False)]
    html = render_to_string("cases/charts/histogram.html", {"chart": chart, "chart_id": "c1"})
    assert 'role="img"' in html and '<desc id="c1-desc">How the class answered.</desc>' in html
    assert '<th scope="row">3</th><td>4</td><td>4</td>' in html


def test_an_empty_histogram_says_when_it_will_fill_in_instead_of_drawing_nothing():
    chart = histogram(
        "Stance", "Answers.", ["1", "2"], ("", [0, 0]), empty="Fills in as students answer."
    )
    assert {b.height for b in chart.bars} == {0}
    html = render_to_string("cases/charts/histogram.html", {"chart": chart, "chart_id": "e"})
    assert "Fills in as students answer." in html and "<svg" not in html


def test_each_axis_label_sits_under_the_middle_of_its_bars_and_long_ones_become_a_key():
    chart = histogram("Moves", "d", ["-1", "0", "+1"], ("Before", [1, 2, 3]), ("After", [3, 2, 1]))
    for text, x in chart.axis:
        pair = [b for b in chart.bars if b.label == text]
        assert min(b.x for b in pair) < x < max(b.x + b.width for b in pair)
        assert abs((min(b.x for b in pair) + max(b.x + b.width for b in pair)) / 2 - x) < 2
    html = render_to_string("cases/charts/histogram.html", {"chart": chart, "chart_id": "m"})
    assert 'text-anchor="middle">+1</text>' in html and "chart__keys" not in html

    options = ["Build its own research lab", "Keep licensing from Alcatel"]
    decision = histogram("Decision", "d", options, ("", [4, 1]))
    assert [text for text, _x in decision.axis] == ["A", "B"]
    html = render_to_string("cases/charts/histogram.html", {"chart": decision, "chart_id": "k"})
    assert "<dt>A</dt><dd>Build its own research lab</dd>" in html


def test_the_viewers_own_answer_is_marked_you_on_the_chart_and_in_its_table():
    chart = histogram("Class", "d", ["1", "2", "3"], ("", [2, 5, 1]), mine=1)
    band_x, band_width = chart.mine_band
    assert band_x < chart.axis[1][1] < band_x + band_width
    html = render_to_string("cases/charts/histogram.html", {"chart": chart, "chart_id": "y"})
    assert ">you</text>" in html and '<th scope="row">2 (yours)</th>' in html
    assert "Your answer is marked “you”." in html


def test_dot_plot_places_values_on_the_0_to_100_scale_with_a_marker():
    chart = dot_plot(
        "Spectrum", "Placements.", [("TechFaith", [80, 80, 20], 85), ("Lenovo", [], None)]
    )
    techfaith, lenovo = chart.rows
    xs = sorted(d.x for d in techfaith.dots)
    assert xs[0] == 20 + (540 - 20) * 20 / 100
    assert len({d.y for d in techfaith.dots if d.value == 80}) == 2  # Stacked, not hidden.
    assert techfaith.mean == 60.0 and techfaith.marker_x == round(20 + 520 * 0.85, 1)
    # Each label has its own line above its dots: whole, not cut to fit a margin.
    assert techfaith.label_y < min(d.y for d in techfaith.dots) - 5 < lenovo.label_y
    assert lenovo.mean is None and lenovo.marker_x is None
    html = render_to_string(
        "cases/charts/dot_plot.html", {"chart": chart, "chart_id": "d", "marker_name": "Authors"}
    )
    assert "<title>Authors: 85</title>" in html and "<td>60.0</td>" in html


def test_polarisation_of_placements_runs_from_agreement_to_a_split_class():
    chart = dot_plot("S", "d", [("Agreed", [60, 60, 60], None), ("Split", [0, 100, 0, 100], None)])
    agreed, split = chart.rows
    assert (agreed.polarisation, split.polarisation) == (0, 1)


def test_a_dot_plot_with_nothing_to_show_says_when_it_will_fill_in():
    chart = dot_plot("S", "d", [("Lenovo", [], None)], empty="Appears once released.")
    html = render_to_string("cases/charts/dot_plot.html", {"chart": chart, "chart_id": "e"})
    assert "Appears once released." in html and "<svg" not in html
    chart = dot_plot("S", "d", [("Lenovo", [], 80)], empty="Appears once released.")
    assert chart.has_data  # The authors' marker alone is worth drawing.
