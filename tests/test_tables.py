"""analysis/tables.py: the layout of every published table, checked against Typst itself.

The width model is checked against Typst's own measurement of the same strings (``measure``,
run through the typst package), and the page and font it assumes against report.qmd.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
import yaml

from analysis import config, tables
from analysis import report as r

SAMPLES = ["15 (7,9%)", "0,50 (0,30–0,83)", "−1,18 (−1,88 tot −0,41)", "χ² = 23,50 (vg 3)",
           "P(tabel) < 0,0001", "52,0 [37,0–72,0]", "< 0,001", "Eenzaamheid totaal", "WHO-5 welbevinden"]


def typst_widths(tmp_path, strings, size=tables.FONT_PT) -> list[float]:
    """Widths in pt of ``strings`` as Typst sets them in the report's table font (the oracle)."""
    import json

    import typst

    src = tmp_path / "m.typ"
    items = ", ".join(json.dumps(s, ensure_ascii=False) for s in strings)
    src.write_text(f'#set text(font: "Libertinus Serif", size: {size}pt, number-type: "lining", '
                   f'number-width: "tabular")\n#for s in ({items},) [#context [#metadata(measure(text(s)).width.pt()) <m>]]\n',
                   encoding="utf-8")
    return [float(v) for v in json.loads(typst.query(str(src), "<m>", field="value"))]


def test_width_model_agrees_with_typst_within_five_percent(tmp_path):
    measured = typst_widths(tmp_path, SAMPLES)
    for text, pt in zip(SAMPLES, measured):
        model = tables.em_width(text) * tables.FONT_PT
        assert model == pytest.approx(pt, rel=0.05), text


def test_numeric_columns_get_the_room_of_their_widest_number(tmp_path):
    frame = pd.DataFrame({
        "Uitkomst": ["PG: Gemiddelde van 6 dimensies met een lange naam", "ZRM: Maatschappelijke participatie"],
        "n": ["17", "18"], "T0 gem. (SD)": ["3,76 (1,92)", "47,0 (14,8)"],
        "Verandering (95%-BI)": ["−1,18 (−1,88 tot −0,41)", "7,5 (2,8–12,8)"],
        "dz (95%-BI)": ["−0,78 (−1,32 tot −0,22)", "0,71 (0,15–1,25)"], "p": ["0,011", "< 0,001"],
    })
    dashes = tables.column_widths(frame)
    assert sum(dashes) == tables.DASHES
    for col, d in zip(frame.columns[1:], dashes[1:]):
        room = d / tables.DASHES * tables.TEXT_WIDTH_PT - tables.INSET_PT
        widest = max(typst_widths(tmp_path, list(frame[col])))  # what Typst needs, not the model
        assert room >= widest, (col, room, widest)
    assert dashes[0] == max(dashes)  # the label column takes what is left: it wraps


def test_a_table_too_wide_for_the_page_is_a_warning():
    frame = pd.DataFrame({f"c{i}": ["−1,18 (−1,88 tot −0,41)"] for i in range(8)})
    with pytest.warns(UserWarning, match="will overflow"):
        tables.column_widths(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tables.column_widths(frame.iloc[:, :3])


def test_a_number_cannot_wrap_in_typst(tmp_path):
    """In a column far too narrow, Typst keeps a kept-together cell on one line (it overflows,
    which the width model prevents) while the plain text wraps."""
    import typst

    from analysis.render import layout

    cell = "0,50 (0,30–0,83)"
    src = tmp_path / "w.typ"
    src.write_text("#set text(font: \"Libertinus Serif\", size: 8pt)\n"
                   f"#block(width: 20pt)[{tables.keep_together(cell)}]\n#v(2em)\n#block(width: 20pt)[{cell}]\n",
                   encoding="utf-8")
    typst.compile(str(src), output=str(tmp_path / "w.pdf"))
    lines = [ln for page in layout.pdf_lines(tmp_path / "w.pdf") for ln in page]
    assert layout.normalise(cell) in [layout.normalise(ln) for ln in lines]
    assert "0,50" in lines[1:] or any(ln.strip() == "0,50" for ln in lines[1:])


def test_keep_together_leaves_no_break_opportunity():
    kept = tables.keep_together("−1,18 (−1,88 tot −0,41) 0,30–0,83")
    assert " " not in kept
    assert all(kept[i + 1] == tables.WORD_JOINER for i, ch in enumerate(kept) if ch in "–-")


def test_the_page_and_font_are_those_of_report_qmd():
    front = yaml.safe_load(config.REPORT_QMD.read_text(encoding="utf-8").split("---")[1])
    typst = front["format"]["typst"]
    assert typst["papersize"] == "a4" and typst["margin"]["x"] == "2.4cm"
    assert tables.TEXT_WIDTH_PT == pytest.approx(595.28 - 2 * 2.4 / 2.54 * 72)
    header = "\n".join(entry["text"] for entry in typst["include-in-header"])
    assert re.search(rf"#show table: set text\(size: {tables.FONT_PT:g}pt\)", header)
    assert "#show figure.where(kind: table): set block(breakable: true)" in header


def display_rows():
    """A Table 1 display (results/reach_table1_display.csv layout) with two variables."""
    base = {"site": "all", "Krachtpunt": "Alle krachtpunten"}
    rows = [
        {"Kenmerk": "Aantal respondenten", "Categorie": "", "Bereikt": "190", "Niet bereikt": "261", "Totaal": "451",
         "SMD": "", "Toetswaarde": "", "p": "", "Toets": ""},
        {"Kenmerk": "Geslacht", "Categorie": "man", "Bereikt": "78 (41,1%)", "Niet bereikt": "125 (47,9%)",
         "Totaal": "203 (45,0%)", "SMD": "0,18", "Toetswaarde": "P(tabel) = 0,0021", "p": "0,338",
         "Toets": "Fisher-Freeman-Halton (Monte Carlo)"},
        {"Kenmerk": "Geslacht", "Categorie": "vrouw", "Bereikt": "109 (57,4%)", "Niet bereikt": "<5",
         "Totaal": "x", "SMD": "", "Toetswaarde": "", "p": "", "Toets": ""},
        {"Kenmerk": "Opleidingsniveau", "Categorie": "laag", "Bereikt": "61 (32,1%)", "Niet bereikt": "88 (33,7%)",
         "Totaal": "149 (33,0%)", "SMD": "0,13", "Toetswaarde": "χ² = 1,91 (vg 2)", "p": "0,385",
         "Toets": "chi-kwadraat"},
    ]
    return pd.DataFrame([{**base, **row} for row in rows])


def test_table1_one_header_row_per_variable_levels_indented_tests_as_letters():
    shown = r.table1_display(display_rows())
    assert shown["Kenmerk"].tolist() == ["Aantal respondenten", "**Geslacht**", tables.INDENT + "man",
                                         tables.INDENT + "vrouw", "**Opleidingsniveau**", tables.INDENT + "laag"]
    assert list(shown.columns) == ["Kenmerk", "Bereikt", "Niet bereikt", "Totaal", "SMD", "Toetswaarde", "p"]
    header = shown.iloc[1]
    assert (header["Bereikt"], header["SMD"], header["p"]) == ("", "0,18", "0,338^a^")
    assert shown.iloc[2]["Bereikt"] == "78 (41,1%)" and shown.iloc[3]["Totaal"] == "x"
    assert shown.iloc[4]["p"] == "0,385^b^"
    note = r.table_note(shown)
    assert note.startswith("^a^ Fisher-Freeman-Halton (Monte Carlo); ^b^ chi-kwadraat.")
    assert r.MARKS_NOTE in note  # the table shows "<5" and "x"


def test_every_number_of_table1_survives_the_layout():
    """The same numbers, each once, before and after the layout (only the site columns go)."""
    display = display_rows()
    shown = r.table1_display(display)
    numbers = lambda frame: sorted(re.findall(r"\d+(?:,\d+)?", " ".join(frame.astype(str).to_numpy().ravel())))
    before = display.drop(columns=["site", "Krachtpunt", "Kenmerk", "Categorie", "Toets"])
    assert numbers(before) == numbers(shown.drop(columns="Kenmerk"))


def test_model_method_becomes_the_note():
    display = pd.DataFrame({"Kenmerk": ["alleenstaand", "Methode"], "OR (95%-BI)": ["2,60 (1,63–4,14)", "Firth"],
                            "p": ["< 0,001", ""], "OR zonder X": ["2,00 (1,10–3,62)", "grootste aannemelijkheid"]})
    shown = r.model_table(display)
    assert shown["Kenmerk"].tolist() == ["alleenstaand"]
    assert list(shown.columns) == ["Kenmerk", "OR (95%-BI)^a^", "p", "OR zonder X^b^"]
    assert r.table_note(shown) == "Geschat met: ^a^ Firth; ^b^ grootste aannemelijkheid."
    same = r.model_table(display.assign(**{"OR zonder X": ["2,00 (1,10–3,62)", "Firth"]}))
    assert r.table_note(same) == "Geschat met Firth." and "OR zonder X" in same


def test_markdown_keeps_the_indent_and_escapes_pipes():
    text = tables.to_markdown(pd.DataFrame({"a": [tables.INDENT + "x|y"], "n": ["15 (7,9%)"]}))
    body = text.splitlines()[2]
    assert body.startswith("| " + tables.INDENT + "x\\|y |")
    assert "15\u00a0(7,9%)" in body
