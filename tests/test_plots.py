import pandas as pd

from serlib import plots


def test_a_table_of_sentences_wraps_every_cell_and_hides_the_index():
    from serlib.papers import common

    frame = common.prose_frame([{"gap": "Table 3 above the paper: " + "x " * 40, "what it showed": "short"}])
    frame.attrs["caption"] = "Gaps (full profile)"
    html = plots.readable_html(frame)
    assert html.count('text prose"') == 2  # the short cell wraps at the reading width too
    assert "Gaps (full profile)" in html and "row_heading" not in html
    assert "prose" not in plots.readable_html(pd.DataFrame({"gap": ["a"]}))


def test_a_page_table_marks_long_text_to_wrap_and_keeps_numbers_on_one_line():
    import pandas as pd

    from serlib.plots import TEXT_CELL_CHARS, readable_html

    frame = pd.DataFrame({"value": {"systems": str(("proposed", "Base1: w/ BLSTM", "Base2: w/ transformer")),
                                    "ours": "93.8 [91.9, 95.6]"}})
    page = readable_html(frame)
    assert len(frame.loc["systems", "value"]) > TEXT_CELL_CHARS
    assert 'class="data row0 col0 text"' in page and 'class="data row1 col0" ' in page
    assert "row_heading" in page  # an index of names stays (only a bare 0, 1, 2, ... index is hidden)


def test_a_float_column_shows_the_decimals_it_needs():
    import numpy as np
    import pandas as pd

    from serlib.plots import decimals_needed, readable_html

    assert decimals_needed(pd.Series([200.0, 400.0, np.nan])) == 0
    assert decimals_needed(pd.Series([624.2, 207.7])) == 1
    assert decimals_needed(pd.Series([0.641, 0.6])) == 3
    page = readable_html(pd.DataFrame({"frames": [200.0, 400.0], "M": [624.2, 207.7], "UA": [0.6412, 0.5]}))
    assert ">200<" in page and ">624.2<" in page and ">0.641<" in page and ">0.500<" in page


def test_paper_vs_ours_names_each_paper_and_table_in_the_legend_not_beside_the_points():
    import matplotlib

    matplotlib.use("Agg")
    cells = pd.DataFrame({"paper": ["rnn", "rnn", "rnn", "capsule"], "table": ["Table 3", "Table 3", "Table 4", "Table 3"],
                          "metric": ["WA", "WA", "WA", "UA"], "paper_value": [0.5, 0.55, 0.56, 0.7],
                          "value": [0.52, 0.53, 0.54, 0.6], "ci_low": [0.45, 0.46, 0.47, 0.5],
                          "ci_high": [0.6, 0.61, 0.62, 0.7]})
    ax = plots.paper_vs_ours(cells)
    labels = ax.get_legend_handles_labels()[1]
    assert labels[2:] == ["capsule, Table 3 (UA)", "rnn, Table 3 (WA)", "rnn, Table 4 (WA)"]
    assert not ax.texts  # no labels that a cluster of points would pile on each other
