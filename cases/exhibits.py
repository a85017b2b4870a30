"""A case's exhibits: numbered figures built from the case's facts, each drawn as a
table, and the diagrams also as accessible SVG (its data is the table beside it).

Stored on `CaseStudy.exhibits` as a list of plain dicts, in the order they are numbered:

    {"title": "...", "kind": "timeline" | "table" | "spectrum" | "chain",
     "columns": ["...", "..."], "rows": [["...", "..."], ...],
     "note": "source or caveat", "highlight": "a chain's stage holder to emphasise"}

- timeline: two columns (when, what happened), rows in time order.
- table: two or more columns of text.
- spectrum: two columns (firm, place 0..100 with 0 the R end and 100 the D end).
- chain: two columns (stage, who does it), rows in value-chain order.

The text cites them as "Exhibit 2"; the reader and posts link that to `#exhibit-2`."""

import functools
import json
import re
import textwrap
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString

from cases.markdown import sub_outside_links

KINDS = ("timeline", "table", "spectrum", "chain")
KIND_NAMES = {
    "timeline": "Timeline",
    "table": "Table",
    "spectrum": "The R-to-D spectrum",
    "chain": "Value chain",
}
MAX_EXHIBITS, MAX_ROWS, MAX_CELL = 12, 40, 300
CITED = re.compile(r"\bExhibit (\d{1,2})\b")


class ExhibitError(ValueError):
    """An exhibit that cannot be drawn; the message names it and says why."""


def exhibits_clean(raw) -> list[dict]:
    """Checked, normalised exhibits, or ExhibitError naming the first problem."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ExhibitError("Exhibits must be a list ([[exhibits]] tables).")
    if len(raw) > MAX_EXHIBITS:
        raise ExhibitError(f"At most {MAX_EXHIBITS} exhibits a case.")
    return [_clean_one(number, item) for number, item in enumerate(raw, 1)]


def _clean_one(number: int, item) -> dict:
    def refuse(reason: str):
        raise ExhibitError(f"Exhibit {number}: {reason}")

    if not isinstance(item, dict):
        refuse("write it as a table of title, kind, columns and rows.")
    title = str(item.get("title", "")).strip()
    kind = str(item.get("kind", "table")).strip()
    if not title:
        refuse("give it a title.")
    if kind not in KINDS:
        refuse(f"kind must be one of {', '.join(KINDS)}, not '{kind}'.")
    columns = [str(c).strip() for c in item.get("columns", [])]
    rows = item.get("rows", [])
    if len(columns) < 2 or (kind != "table" and len(columns) != 2):
        refuse("a table needs two or more columns; a timeline, spectrum or chain exactly two.")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        refuse(f"give 1 to {MAX_ROWS} rows.")
    clean_rows = []
    for index, row in enumerate(rows, 1):
        if not isinstance(row, list) or len(row) != len(columns):
            refuse(f"row {index} needs {len(columns)} cells, one per column.")
        cells = [str(cell).strip() for cell in row]
        if any(len(cell) > MAX_CELL for cell in cells):
            refuse(f"row {index} has a cell over {MAX_CELL} characters.")
        if kind == "spectrum" and not (cells[1].isdigit() and int(cells[1]) <= 100):
            refuse(f"row {index}: a place on the spectrum is a whole number from 0 to 100.")
        clean_rows.append(cells)
    clean = {"title": title, "kind": kind, "columns": columns, "rows": clean_rows}
    if note := str(item.get("note", "")).strip():
        clean["note"] = note
    if highlight := str(item.get("highlight", "")).strip():
        clean["highlight"] = highlight
    return clean


@dataclass
class Line:
    """One line of text in a diagram, placed: long labels wrap so that they stay inside
    the drawing at phone sizes."""

    text: str
    y: int
    strong: bool = False


@dataclass
class Mark:
    """A firm or a kind of work on the spectrum diagram: its own row, the track at `y`,
    its label's lines above it."""

    label: str
    value: int
    x: float
    y: int
    lines: list[Line]


@dataclass
class Stage:
    """One box of the value-chain diagram (boxes run top to bottom)."""

    stage: str
    holder: str
    y: int
    height: int
    highlighted: bool
    lines: list[Line]

    @property
    def arrow_y(self) -> int:
        return self.y + self.height


@dataclass
class Exhibit:
    number: int
    title: str
    kind: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    marks: list[Mark] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    width: int = 400
    height: int = 0

    @property
    def anchor(self) -> str:
        return f"exhibit-{self.number}"

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def description(self) -> str:
        """What the diagram shows, in words (its table gives every value)."""
        if self.kind == "spectrum":
            placed = "; ".join(f"{m.label} at {m.value}" for m in self.marks)
            return f"Firms placed from R (0) to D (100): {placed}."
        if self.kind == "chain":
            return "Stages in order: " + "; then ".join(
                f"{s.stage} ({s.holder})" for s in self.stages
            )
        return ""


# In SVG units of a 400-wide drawing, sized for a phone (shown at most 30rem wide):
# text is 17 units on a phone, so a line holds about 40 characters.
SPECTRUM_LEFT, SPECTRUM_RIGHT, SPECTRUM_TOP = 24, 376, 40
LINE, WRAP, STAGE_GAP = 20, 40, 24


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WRAP) or [""]


def exhibits_html(case) -> SafeString:
    """The case's exhibits as the reader shows them: the same for every reader, so
    rendered once a process for each distinct set (keyed by their content, which is
    all the markup depends on)."""
    if not case.exhibits:
        return SafeString("")
    return _rendered(json.dumps(case.exhibits, sort_keys=True))


@functools.lru_cache(maxsize=128)
def _rendered(exhibits: str) -> SafeString:
    return render_to_string(
        "cases/readings/exhibits.html", {"exhibits": exhibits_for(json.loads(exhibits))}
    )


def exhibits_for(exhibits: list[dict]) -> list[Exhibit]:
    """A case's exhibits (`CaseStudy.exhibits`), numbered, with the geometry of their
    diagrams."""
    shown = []
    for number, raw in enumerate(exhibits or [], 1):
        exhibit = Exhibit(
            number=number,
            title=raw["title"],
            kind=raw["kind"],
            columns=raw["columns"],
            rows=raw["rows"],
            note=raw.get("note", ""),
        )
        if exhibit.kind == "spectrum":
            _spectrum(exhibit)
        elif exhibit.kind == "chain":
            _chain(exhibit, raw.get("highlight", ""))
        shown.append(exhibit)
    return shown


def _spectrum(exhibit: Exhibit) -> None:
    """A row per entry, R end first: its name and place above a track, a mark on the
    track where it sits, so no label ever crosses another or a mark."""
    span = SPECTRUM_RIGHT - SPECTRUM_LEFT
    y = SPECTRUM_TOP
    for label, value in sorted(exhibit.rows, key=lambda row: int(row[1])):
        wrapped = _wrap(f"{label} · {value}")
        lines = [Line(text, y + LINE * (n + 1), strong=True) for n, text in enumerate(wrapped)]
        y += LINE * len(wrapped) + 14
        x = round(SPECTRUM_LEFT + span * int(value) / 100, 1)
        exhibit.marks.append(Mark(label, int(value), x, y, lines))
        y += 16
    exhibit.height = y


def _chain(exhibit: Exhibit, highlight: str) -> None:
    """Boxes top to bottom, an arrow between each, the highlighted holder's in colour."""
    y = 0
    for stage, holder in exhibit.rows:
        texts = [(t, True) for t in _wrap(stage)] + [(t, False) for t in _wrap(holder)]
        lines = [Line(t, y + 8 + LINE * (n + 1), strong) for n, (t, strong) in enumerate(texts)]
        height = LINE * len(texts) + 16
        highlighted = bool(highlight) and holder == highlight
        exhibit.stages.append(Stage(stage, holder, y, height, highlighted, lines))
        y += height + STAGE_GAP
    exhibit.height = y - STAGE_GAP


def link_exhibits(html: str, count: int, base: str = "") -> str:
    """Sanitised HTML with each "Exhibit N" (N a real exhibit) linked to its figure at
    `base#exhibit-N`; text inside a link is left alone."""
    if not count:
        return html
    return sub_outside_links(html, CITED, lambda m: _exhibit_link(m, count, base))


def _exhibit_link(match, count: int, base: str) -> str:
    number = int(match.group(1))
    if not 1 <= number <= count:
        return match.group(0)
    return f'<a class="exhibit-ref" href="{escape(base)}#exhibit-{number}">Exhibit {number}</a>'
