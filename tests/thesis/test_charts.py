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
    assert chart.rows == [("1", [0, 1]), ("2", [2, 1]), ("3", [4, 4])]
    html = render_to_string("cases/charts/histogram.html", {"chart": chart, "chart_id": "c1"})
    assert 'role="img"' in html and '<desc id="c1-desc">How the class answered.</desc>' in html
    assert '<th scope="row">3</th><td>4</td><td>4</td>' in html


def test_an_empty_histogram_draws_no_bars_of_height():
    chart = histogram("Stance", "Nobody answered yet.", ["1", "2"], ("", [0, 0]))
    assert {b.height for b in chart.bars} == {0}


def test_dot_plot_places_values_on_the_0_to_100_scale_with_a_marker():
    chart = dot_plot(
        "Spectrum", "Placements.", [("TechFaith", [80, 80, 20], 85), ("Lenovo", [], None)]
    )
    techfaith, lenovo = chart.rows
    xs = sorted(d.x for d in techfaith.dots)
    assert xs[0] == 150 + (540 - 150) * 20 / 100
    assert len({d.y for d in techfaith.dots if d.value == 80}) == 2  # Stacked, not hidden.
    assert techfaith.mean == 60.0 and techfaith.marker_x == round(150 + 390 * 0.85, 1)
    assert lenovo.mean is None and lenovo.marker_x is None
    html = render_to_string(
        "cases/charts/dot_plot.html", {"chart": chart, "chart_id": "d", "marker_name": "Authors"}
    )
    assert "<title>Authors: 85</title>" in html and "<td>60.0</td>" in html


def test_polarisation_of_placements_runs_from_agreement_to_a_split_class():
    chart = dot_plot("S", "d", [("Agreed", [60, 60, 60], None), ("Split", [0, 100, 0, 100], None)])
    agreed, split = chart.rows
    assert (agreed.polarisation, split.polarisation) == (0, 1)
