import pandas as pd

from serlib import plots


def test_a_prose_table_wraps_its_sentences_and_hides_the_index():
    frame = pd.DataFrame({"gap": ["Table 3 above the paper: " + "x " * 40], "what it showed": ["a sentence"]})
    html = plots.prose_table(frame, "Gaps (full profile)").to_html()
    assert "white-space: normal" in html and "min-width: 14em" in html  # overrides the book's one-line cells
    assert "Gaps (full profile)" in html and "row_heading" not in html
