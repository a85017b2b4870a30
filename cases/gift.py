"""Moodle's GIFT question format: read it into plain data and write it back.

Read: every question of a file, in order, either read with its meaning or refused by
name with the reason and what would fix it (`read_gift`); one bad question never stops
the others. `parse_gift` is the all-or-nothing reading: the questions, or `GiftErrors`
listing every problem.

What is read: single choice (one or more answers worth 100%, distractors may carry
partial credit or a penalty: ~%50%), multiple choice (no = answer: weights on every
answer, the right ones adding up to 100%), true/false with its two feedbacks
({TRUE#for a wrong answer#for a right answer}), numerical (3:0.5, a range 1..2, optional
feedback; several answers below), essays ({} : our short text, graded by a person),
matching ({=prompt -> match ...}; `= -> match`, a pair with no prompt, is an extra
wrong match, as Moodle writes it), short answer ({=a =%50%b#feedback}: accepted answers
with their credit, `*` a wildcard, not case sensitive, as Moodle imports it),
description items (text with no answer block: shown, not answered), missing word (text
after the answer block: the text becomes `before ___ after`, one space each side unless
the text starts or ends there, an opening bracket or quote comes before or punctuation
after; a single-choice or short-answer block only), question names, comments,
$CATEGORY paths, escapes, general feedback (####) and per-answer feedback (#).

Points: GIFT cannot say what a question is worth, so Red Queen writes a comment line
`// points: 2` before each question not worth the default 1 and reads it back (Moodle
ignores comments; a file without one imports at 1 point a question). A question name
longer than Question.title's 200 characters is refused, not cut; so is each question
under a $CATEGORY whose name is longer than QuestionCategory.name's 200 (the reason
names the category's line).

Numerical questions may have several answers ({#=1822:0#Right =%50%1822:2#Close}), each
with its credit (0..100%) and feedback: the first worth 100% is the question's own
(feedback: `right_feedback`), the others its choices; a `~` entry is, as Moodle reads
it, the feedback on any other answer (`wrong_feedback`).

Refused by name (no place to store them without changing their meaning, yet):
missing word with any other answer block (true/false, numerical, essay, multiple
choice, matching).

Formats: question text is stored as Markdown. [markdown] and unmarked text are kept;
[html] text (and [moodle] or unmarked text that holds HTML tags) is converted to
Markdown, so it shows formatted, not as tags (the Markdown renderer sanitises with nh3
on display); [plain] text has Markdown's special characters escaped. Answers and
answer feedback are plain text on our pages: HTML there is reduced to its text.

Numbers are Decimals, read exactly as written; a range keeps answer=(min+max)/2 and
tolerance=(max-min)/2 and `numeric_range`, and is written back as min..max.

Write (`export_gift`): a fixed point: export -> import -> export gives the same bytes.
Likert and spectrum questions have no GIFT form and are left out of an export, as are a
case-sensitive short answer (GIFT cannot say so) and a matching question whose prompt
holds "->" (it would be read back split there): each is named in the export's list of
what it left out. A single-choice or short-answer question whose text holds its one
blank is written as missing word, the answer block where the blank is (at the end, the
blank is kept as ___ before the block: the block alone would read back with no blank).
A description is `::title::text` with no answer block: its general feedback, which
GIFT has no place for, is lost, and named in the export's list of what it lost."""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser

from cases.markdown import BLANK, count_blanks

# The kinds export_gift writes; every other is left out by name.
EXPORTED_KINDS = {
    "single", "multiple", "true_false", "numeric", "short_text", "matching", "description",
    "short_answer",
}  # fmt: skip
# Missing word: the kinds whose text may hold the blank (the answer block goes there).
BLANK_KINDS = {"single", "short_answer"}
OPENING = tuple("([{\"'\u201c\u2018\u00ab")
CLOSING = tuple(".,;:!?)]}\"'\u201d\u2019\u00bb\u2026")
SPECIAL = "~=#{}:"
FORMAT_MARK = re.compile(r"^\s*\[(html|markdown|plain|moodle)\]", re.I)
HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# What the database holds exactly on SQLite and PostgreSQL (Question.numeric_*).
MAX_SIGNIFICANT, MAX_PLACES, MAX_INTEGER_DIGITS = 15, 10, 10
FRACTION_PLACES = Decimal("0.00001")  # Choice.fraction
MAX_TITLE = 200  # Question.title
MAX_CATEGORY = 200  # QuestionCategory.name
MAX_ANSWER = 500  # Choice.text and Choice.match: an answer, a side of a pair
# Question.points: the default, and what the column holds (max_digits=6, 2 places).
DEFAULT_POINTS, MAX_POINTS, POINTS_PLACES = Decimal(1), Decimal("9999.99"), 2
POINTS_COMMENT = re.compile(r"^//\s*points:\s*([+-]?[0-9.]+)\s*$", re.I)


class GiftError(ValueError):
    def __init__(self, line: int, reason: str):
        super().__init__(f"Line {line}: {reason}")
        self.line = line
        self.reason = reason


class GiftErrors(GiftError):
    """Every problem of a file (all-or-nothing reading). A GiftError too, naming the
    first problem's line, so callers that catch GiftError keep working."""

    def __init__(self, errors: list[GiftError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.line, first.reason)
        self.args = ("\n".join(f"Line {e.line}: {e.reason}" for e in errors),)

    def __str__(self) -> str:
        return self.args[0]


class GiftUnsupported(GiftError):
    """A question Moodle accepts that we cannot store with its meaning (yet)."""

    def __init__(self, line: int, reason: str, fix: str):
        super().__init__(line, reason)
        self.fix = fix


@dataclass
class GiftChoice:
    text: str
    fraction: Decimal
    feedback: str = ""
    # Matching: `text` is the prompt and this its match; an empty prompt is an extra
    # wrong match.
    match: str = ""
    # Numerical: an answer besides the right one (text empty): a number and its
    # tolerance, or a range.
    numeric_answer: Decimal | None = None
    numeric_tolerance: Decimal = Decimal(0)
    numeric_range: bool = False


@dataclass
class GiftQuestion:
    line: int
    kind: str
    title: str
    text: str
    category: str = ""
    feedback: str = ""
    choices: list[GiftChoice] = field(default_factory=list)
    true_false_answer: bool | None = None
    numeric_answer: Decimal | None = None
    numeric_tolerance: Decimal = Decimal(0)
    numeric_range: bool = False
    # True/false and numeric: feedback for a right answer and for a wrong one.
    right_feedback: str = ""
    wrong_feedback: str = ""
    # From a `// points: N` comment before the question; None: the default.
    points: Decimal | None = None


@dataclass
class GiftRefusal:
    line: int
    title: str
    reason: str
    fix: str
    # Sound, but the bank has it already (the same file imported again): left out, and
    # no reason to refuse the rest of an all-or-nothing import.
    already: bool = False


@dataclass
class GiftResult:
    line: int
    question: GiftQuestion | None
    refusal: GiftRefusal | None


# Escapes ---------------------------------------------------------------------------


def unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:\\n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def escape(text: str) -> str:
    return "".join("\\" + ch if ch in SPECIAL + "\\" else ch for ch in text).replace("\n", "\\n")


def _clean(text: str) -> str:
    """Form text as the importer would read it back: \\n line ends, no outer spaces."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _split_unescaped(text: str, marks: str) -> list[tuple[str, str]]:
    """Split `text` before each unescaped mark in `marks`: [(mark, chunk), ...]; the
    first chunk's mark is ''."""
    parts, current, mark, i = [], [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch in marks:
            parts.append((mark, "".join(current)))
            current, mark = [], ch
        else:
            current.append(ch)
        i += 1
    parts.append((mark, "".join(current)))
    return parts


def _find_unescaped(text: str, target: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(target, i):
            return i
        i += 1
    return -1


# Formats ---------------------------------------------------------------------------


class _HtmlToMarkdown(HTMLParser):
    """The formatting Markdown can say (paragraphs, emphasis, lists, links, code);
    other tags are dropped and their text kept; scripts and styles dropped whole; an
    image refuses the question (GiftUnsupported)."""

    INLINE = {"b": "**", "strong": "**", "i": "*", "em": "*", "code": "`"}

    def __init__(self, plain: bool):
        super().__init__(convert_charrefs=True)
        self.plain = plain
        self.out: list[str] = []
        self.lists: list[list] = []
        self.href: str | None = None
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "img":
            # Questions show no images (the sanitiser drops them): imported as its alt
            # text, a question about a chart would be asked without the chart.
            raise GiftUnsupported(
                0,  # read_gift names the question's line.
                "It shows an image, and questions here show no images: it would be "
                "asked without it.",
                "Describe the image in words (or give its figures as a table) in the "
                "file, or remove the question.",
            )
        elif self.plain:
            if tag in ("br", "p", "div", "li"):
                self.out.append(" ")
        elif tag in self.INLINE:
            self.out.append(self.INLINE[tag])
        elif tag == "br":
            self.out.append("  \n")
        elif tag in ("p", "div", "blockquote", "table", "tr"):
            self.out.append("\n\n")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n\n### ")
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 0])
            self.out.append("\n\n")
        elif tag == "li":
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                self.out.append(f"\n{self.lists[-1][1]}. ")
            else:
                self.out.append("\n- ")
        elif tag == "a":
            self.href = dict(attrs).get("href") or ""
            self.out.append("[")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif self.plain:
            return
        elif tag in self.INLINE:
            self.out.append(self.INLINE[tag])
        elif tag in ("p", "div", "blockquote", "table", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n\n")
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.out.append("\n\n")
        elif tag == "a":
            href, self.href = self.href, None
            self.out.append(f"]({href})" if href else "]")

    def handle_data(self, data):
        if not self.skip:
            data = re.sub(r"\s+", " ", data)
            self.out.append(data if self.plain else _md_escape(data))

    def result(self) -> str:
        text = "".join(self.out)
        text = re.sub(r"[ \t]+\n", lambda m: "  \n" if m.group(0).startswith("  ") else "\n", text)
        text = re.sub(r"\n[ \t]+", "\n", text)
        text = re.sub(r"\n{3,}", "\n\n", text)
        return re.sub(r" {2,}(?!\n)", " ", text).strip()


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _from_html(text: str, *, plain: bool) -> str:
    parser = _HtmlToMarkdown(plain)
    parser.feed(text)
    parser.close()
    return parser.result()


def _formatted(raw: str, inherited: str = "", *, plain: bool = False) -> tuple[str, str]:
    """(text, format) of a raw (escaped) piece of GIFT: its own [format] mark, else the
    one it inherits; Markdown for question text, plain text for answers (`plain`)."""
    found = FORMAT_MARK.match(raw)
    fmt = inherited
    if found:
        fmt = found.group(1).lower()
        raw = raw[found.end() :]
    text = unescape(raw).strip()
    if fmt == "html" or (fmt in ("", "moodle") and HTML_TAG.search(text)):
        return _from_html(text, plain=plain), fmt
    if fmt == "plain" and not plain:
        return _md_escape(text), fmt
    return text, fmt


# Reading ---------------------------------------------------------------------------


def _number(value: str, line: int) -> Decimal:
    value = value.strip()
    if not NUMBER.match(value):
        raise GiftError(line, f"'{value}' is not a number, a number:tolerance or a range min..max.")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise GiftError(line, f"'{value}' is not a number.") from None
    _check_exact(number, value, line)
    return number


def _check_exact(number: Decimal, shown: str, line: int) -> None:
    _sign, digits, exponent = number.normalize().as_tuple()
    significant = len(digits) if number else 0
    places = max(0, -exponent)
    integer_digits = max(0, significant + exponent)
    if significant > MAX_SIGNIFICANT or places > MAX_PLACES or integer_digits > MAX_INTEGER_DIGITS:
        raise GiftError(
            line,
            f"{shown} cannot be stored exactly (at most {MAX_SIGNIFICANT} significant digits, "
            f"{MAX_PLACES} after the point).",
        )


def _answer_and_feedback(chunk: str, fmt: str = "") -> tuple[str, str]:
    parts = _split_unescaped(chunk, "#")
    answer, _ = _formatted(parts[0][1], fmt, plain=True)
    feedback, _ = _formatted("#".join(p for _, p in parts[1:]), fmt, plain=True)
    return answer, feedback


def numeric_value(value: str, line: int = 1) -> tuple[Decimal, Decimal, bool]:
    """(answer, tolerance, is a range) of a numerical answer as written: 1600, 1600:100
    or a range 1500..1700 (kept as its midpoint and half-width). Exact, or GiftError."""
    value = value.strip()
    if not value:
        raise GiftError(line, "the numerical answer is empty.")
    if ".." in value:
        low_text, _, high_text = value.partition("..")
        low, high = _number(low_text, line), _number(high_text, line)
        if low > high:
            raise GiftError(line, f"the range {value} runs backwards: write min..max.")
        answer, tolerance, is_range = (low + high) / 2, (high - low) / 2, True
    else:
        number, _, tolerance_text = value.partition(":")
        answer = _number(number, line)
        tolerance = _number(tolerance_text, line) if tolerance_text.strip() else Decimal(0)
        is_range = False
        if tolerance < 0:
            raise GiftError(line, f"the tolerance in {value} is negative.")
    _check_exact(answer, value, line)
    _check_exact(tolerance, value, line)
    return answer, tolerance, is_range


def _parse_numeric(body: str, line: int, question: GiftQuestion, fmt: str = "") -> None:
    """{#1600:100}, {#1500..1700#feedback}, or several answers, each with its credit
    and feedback: {#=1822:0#Right =%50%1822:2#Close ~#Any other answer}. The first
    answer worth 100% is the question's own; the others are kept as choices. A `~`
    entry, as Moodle reads it, is the feedback on any other answer."""
    question.kind = "numeric"
    pieces = _split_unescaped(body, "=~")
    wrong = [chunk for mark, chunk in pieces if mark == "~"]
    answers = [(mark, chunk) for mark, chunk in pieces if mark != "~"]
    answers = [(mark, chunk) for mark, chunk in answers if mark == "=" or chunk.strip()]
    if len(wrong) > 1:
        raise GiftError(line, "a numerical question takes one ~ (feedback on any other answer).")
    if wrong:
        before, _, feedback = wrong[0].partition("#")
        if before.strip() not in ("", "*"):
            raise GiftError(
                line,
                f"'{before.strip()[:40]}' after ~ would be ignored: in a numerical question "
                "~ only gives feedback on any other answer (~#feedback); give a wrong "
                "answer with its feedback as =%0%number#feedback.",
            )
        question.wrong_feedback, _ = _formatted(feedback, fmt)
    if not answers:
        raise GiftError(line, "the numerical answer is empty.")
    entries = []
    for _mark, chunk in answers:
        parts = _split_unescaped(chunk, "#")
        value = unescape(parts[0][1]).strip()
        feedback, _ = _formatted("#".join(p for _, p in parts[1:]), fmt)
        fraction = Decimal(1)
        weight = re.match(r"^%(-?\d+(?:\.\d+)?)%", value)
        if weight:
            fraction = (Decimal(weight.group(1)) / 100).quantize(FRACTION_PLACES)
            value = value[weight.end() :].strip()
            if not 0 <= fraction <= 1:
                raise GiftError(line, f"the credit of {value} is outside 0%..100%.")
        entries.append((numeric_value(value, line), fraction, feedback))
    first = next((i for i, (_, fraction, _) in enumerate(entries) if fraction == 1), None)
    if first is None:
        raise GiftError(line, "no numerical answer is worth 100% (= without a weight).")
    (answer, tolerance, is_range), _, question.right_feedback = entries.pop(first)
    question.numeric_answer, question.numeric_tolerance = answer, tolerance
    question.numeric_range = is_range
    question.choices = [
        GiftChoice("", fraction, feedback, numeric_answer=a, numeric_tolerance=t, numeric_range=r)
        for (a, t, r), fraction, feedback in entries
    ]


def _parse_matching(pieces, line: int, question: GiftQuestion, fmt: str) -> None:
    """{=prompt -> match ...}: each pair a choice; `= -> match` an extra wrong match."""
    question.kind = "matching"
    seen, choices = set(), []
    for mark, chunk in pieces:
        arrow = _find_unescaped(chunk, "->")
        if mark != "=" or arrow == -1:
            raise GiftError(line, "every pair of a matching question is written =prompt -> match.")
        if _find_unescaped(chunk, "#") != -1 or re.match(r"^\s*%", chunk):
            raise GiftError(line, "matching pairs take no weights or feedback (% or #).")
        prompt, _ = _formatted(chunk[:arrow], fmt, plain=True)
        match, _ = _formatted(chunk[arrow + 2 :], fmt, plain=True)
        if not match:
            raise GiftError(line, f"the pair '{prompt[:40]}' has nothing after ->.")
        if len(prompt) > MAX_ANSWER or len(match) > MAX_ANSWER:
            raise GiftError(line, f"a pair is too long: {MAX_ANSWER} characters a side at most.")
        if prompt and prompt.casefold() in seen:
            raise GiftError(line, f"the prompt '{prompt[:40]}' is given twice.")
        if prompt:
            seen.add(prompt.casefold())
        choices.append(GiftChoice(prompt, Decimal(0), match=match))
    if len(seen) < 2:
        raise GiftError(line, "a matching question needs at least two pairs with a prompt.")
    question.choices = choices


def _parse_short_answer(pieces, line: int, question: GiftQuestion, fmt: str) -> None:
    """{=a =%50%b#feedback}: accepted answers, each with its credit (0..100%); not case
    sensitive, as Moodle imports it."""
    question.kind = "short_answer"
    choices = []
    for _, chunk in pieces:
        answer, feedback = _answer_and_feedback(chunk, fmt)
        fraction = Decimal(1)
        weight = re.match(r"^%(-?\d+(?:\.\d+)?)%", answer)
        if weight:
            fraction = (Decimal(weight.group(1)) / 100).quantize(FRACTION_PLACES)
            answer = answer[weight.end() :].strip()
        if not answer:
            raise GiftError(line, "an accepted answer is empty.")
        if len(answer) > MAX_ANSWER:
            raise GiftError(line, f"an accepted answer is at most {MAX_ANSWER} characters.")
        if not 0 <= fraction <= 1:
            raise GiftError(line, f"the credit of '{answer}' is outside 0%..100%.")
        choices.append(GiftChoice(answer, fraction, feedback))
    if not any(c.fraction == 1 for c in choices):
        raise GiftError(line, "no accepted answer is worth 100% (= without a weight).")
    question.choices = choices


def _parse_body(body: str, line: int, question: GiftQuestion, fmt: str = "") -> None:
    """Read an answer block's inside into `question`; GiftError when it is malformed,
    GiftUnsupported when it is a type we cannot store with its meaning."""
    general = _find_unescaped(body, "####")
    if general != -1:
        question.feedback, _ = _formatted(body[general + 4 :], fmt)
        body = body[:general]
    stripped = body.strip()
    if stripped == "":
        question.kind = "short_text"  # GIFT's essay: a person grades it.
        return
    true_false = re.match(r"^(T|TRUE|F|FALSE)\s*(#|$)", stripped, re.I)
    if true_false:
        parts = _split_unescaped(stripped, "#")
        if len(parts) > 3:
            raise GiftError(line, "a true/false answer takes at most two feedbacks (#wrong#right).")
        question.kind = "true_false"
        question.true_false_answer = true_false.group(1).upper().startswith("T")
        if len(parts) > 1:
            question.wrong_feedback, _ = _formatted(parts[1][1], fmt)
        if len(parts) > 2:
            question.right_feedback, _ = _formatted(parts[2][1], fmt)
        return
    if stripped.startswith("#"):
        _parse_numeric(stripped[1:], line, question, fmt)
        return
    pieces = _split_unescaped(stripped, "=~")
    if pieces[0][1].strip():
        raise GiftError(
            line,
            f"'{pieces[0][1].strip()[:40]}' comes before the first answer "
            "(start each with = or ~).",
        )
    pieces = pieces[1:]
    if not pieces:
        raise GiftError(line, "the answer block has no answers (start each with = or ~).")
    if any(_find_unescaped(chunk, "->") != -1 for _, chunk in pieces):
        _parse_matching(pieces, line, question, fmt)
        return
    if all(mark == "=" for mark, _ in pieces):
        _parse_short_answer(pieces, line, question, fmt)
        return
    choices = []
    for mark, chunk in pieces:
        answer, feedback = _answer_and_feedback(chunk, fmt)
        weight = re.match(r"^%(-?\d+(?:\.\d+)?)%", answer)
        if weight:
            fraction = (Decimal(weight.group(1)) / 100).quantize(FRACTION_PLACES)
            answer = answer[weight.end() :].strip()
        else:
            fraction = Decimal(1) if mark == "=" else Decimal(0)
        if not answer:
            raise GiftError(line, "an answer is empty.")
        if len(answer) > MAX_ANSWER:
            raise GiftError(line, f"an answer is at most {MAX_ANSWER} characters.")
        if not -1 <= fraction <= 1:
            raise GiftError(line, f"the weight of '{answer}' is outside -100%..100%.")
        choices.append(GiftChoice(answer, fraction, feedback))
    question.choices = choices
    if any(mark == "=" for mark, _ in pieces):
        # Moodle: an = answer makes it single choice; other answers may be worth part.
        question.kind = "single"
        if not any(c.fraction == 1 for c in choices):
            raise GiftError(line, "no answer is worth 100% (= without a weight).")
        return
    question.kind = "multiple"
    right = [c for c in choices if c.fraction > 0]
    if not right:
        raise GiftError(line, "no answer is marked right (= or a positive %weight%).")
    total = sum(c.fraction for c in right)
    if abs(total - 1) > Decimal("0.011"):
        raise GiftError(
            line, f"the right answers' weights add up to {(total * 100).normalize():f}%, not 100%."
        )


def _blocks(text: str):
    """(line, (category line, category), source, points) of each question, in order;
    `points` is the (line, value) of the last `// points:` comment since the question
    before, if any."""
    category = (0, "")
    block: list[str] = []
    block_line = 0
    points = None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    for number, raw in enumerate([*lines, ""], 1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            if said := POINTS_COMMENT.match(line.strip()):
                points = (number, said.group(1))
            continue
        if line.startswith("$CATEGORY:") or not line.strip():
            if block:
                yield block_line, category, "\n".join(block).strip(), points
                block, points = [], None
            if line.startswith("$CATEGORY:"):
                category = (number, _category(line.split(":", 1)[1]))
            continue
        if not block:
            block_line = number
        block.append(line)


def _category(path: str) -> str:
    """Our category's name from a $CATEGORY path: Moodle's context ($course$/) and its
    top category (top/) are left out."""
    path = re.sub(r"^\$(course|system|module|coursecategory)\$(/|$)", "", path.strip())
    return re.sub(r"^top(/|$)", "", path)


def _category_line(name: str) -> str:
    if _category(name) != name:  # A name that reads like a Moodle path: say it whole.
        name = "$course$/top/" + name
    return f"$CATEGORY: {name}\n"


def _title_of(source: str) -> str:
    if source.startswith("::"):
        end = _find_unescaped(source, "::", 2)
        if end != -1:
            return unescape(source[2:end]).strip()[:200]
    return " ".join(unescape(FORMAT_MARK.sub("", source)).split())[:60]


def _points(said: tuple[int, str] | None, line: int) -> Decimal | None:
    """The points of a `// points: N` comment: more than 0, at most what the column
    holds, in hundredths."""
    if said is None:
        return None
    comment_line, value = said
    try:
        points = Decimal(value)
    except InvalidOperation:
        points = None
    if (
        points is None
        or not points.is_finite()
        or not 0 < points <= MAX_POINTS
        or -points.as_tuple().exponent > POINTS_PLACES
    ):
        raise GiftError(
            line,
            f"the points comment on line {comment_line} ('{value}') is not a number of "
            f"points from 0.01 to {MAX_POINTS} in hundredths.",
        )
    return points


def _read_question(
    source: str,
    line: int,
    category: str,
    points: tuple[int, str] | None = None,
    category_line: int = 0,
) -> GiftQuestion:
    if len(category) > MAX_CATEGORY:
        # Each question under it is refused, not filed under a name cut short.
        raise GiftError(
            line,
            f"its category, named on line {category_line}, is {len(category)} characters; "
            f"a category name is at most {MAX_CATEGORY}. Shorten it there.",
        )
    title = ""
    if source.startswith("::"):
        end = _find_unescaped(source, "::", 2)
        if end == -1:
            raise GiftError(line, "the question name is not closed with ::.")
        title = unescape(source[2:end]).strip()
        if len(title) > MAX_TITLE:
            raise GiftError(
                line,
                f"the question name is {len(title)} characters; a name is at most {MAX_TITLE}.",
            )
        source = source[end + 2 :]
    worth = _points(points, line)
    open_at = _find_unescaped(source, "{")
    if open_at == -1:  # A description: text shown between questions, nothing to answer.
        text, _ = _formatted(source)
        if not text:
            raise GiftError(line, "the description has no text.")
        return GiftQuestion(
            line=line, kind="description", title=title or " ".join(text.split())[:60],
            text=text, category=category,
        )  # fmt: skip
    close_at = _find_unescaped(source, "}", open_at)
    if close_at == -1:
        raise GiftError(line, "the answer block is not closed with }.")
    text, fmt = _formatted(source[:open_at])
    rest = source[close_at + 1 :]
    named = re.search(r"\n[ \t]*::", rest)  # A line that starts the next question's name.
    second = named.start() + 1 if named else _find_unescaped(rest, "{")
    if second != -1:
        # Not a missing word: the next question, its blank line before it forgotten.
        at = line + source[: close_at + 1].count("\n") + rest[:second].count("\n")
        raise GiftError(
            line,
            f"another question begins on line {at}: two questions run together. "
            "Put a blank line before the second question.",
        )
    if rest.strip():  # Missing word: the blank goes where the answer block is.
        after, _ = _formatted(rest, fmt)
        text = _with_blank(text, after)
    if not text:
        raise GiftError(line, "the question has no text.")
    question = GiftQuestion(
        line=line, kind="", title=title or " ".join(text.split())[:60], text=text,
        category=category, points=worth,
    )  # fmt: skip
    _parse_body(source[open_at + 1 : close_at], line, question, fmt if fmt != "markdown" else "")
    if rest.strip() and question.kind not in BLANK_KINDS:
        raise GiftUnsupported(
            line,
            "Missing-word questions are supported with choices ({=right ~wrong}) or "
            "accepted answers ({=a =b}); this one's answer block is neither, so its "
            "blank would have no meaning.",
            "Move the answer block to the end of the question text, or remove the question.",
        )
    if question.kind in BLANK_KINDS and count_blanks(text) > 1:
        raise GiftError(line, "the text holds more than one ___ blank; a question has one.")
    return question


def _blank_spacing(before: str, after: str) -> tuple[str, str, str, str]:
    """(before, space, space, after) around a blank: one space each side, none at the
    text's start or end, after an opening bracket or quote, or before punctuation."""
    before, after = before.rstrip(), after.lstrip()
    left = " " if before and not before.endswith(OPENING) else ""
    right = " " if after and not after.startswith(CLOSING) else ""
    return before, left, right, after


def _with_blank(before: str, after: str) -> str:
    before, left, right, after = _blank_spacing(before, after)
    return f"{before}{left}___{right}{after}"


def read_gift(text: str) -> list[GiftResult]:
    """Every question in the file, in order, each either read or refused; never raises."""
    results = []
    for line, (category_line, category), source, points in _blocks(text):
        try:
            question = _read_question(source, line, category, points, category_line)
        except GiftUnsupported as refused:
            refusal = GiftRefusal(line, _title_of(source), refused.reason, refused.fix)
            results.append(GiftResult(line, None, refusal))
        except GiftError as error:
            fix = "Correct the question in the file (see Moodle's GIFT format), or remove it."
            reason = error.reason[:1].upper() + error.reason[1:]
            results.append(
                GiftResult(line, None, GiftRefusal(line, _title_of(source), reason, fix))
            )
        except Exception as error:  # One bad question never stops the rest.
            reason = f"This question could not be read ({type(error).__name__})."
            fix = "Correct the question in the file, or remove it."
            results.append(
                GiftResult(line, None, GiftRefusal(line, _title_of(source), reason, fix))
            )
        else:
            results.append(GiftResult(line, question, None))
    return results


def parse_gift(text: str) -> list[GiftQuestion]:
    """All-or-nothing (kept for the old mode): the questions, or a GiftErrors listing
    EVERY problem."""
    results = read_gift(text)
    errors = [GiftError(r.line, r.refusal.reason) for r in results if r.refusal]
    if not results:
        errors = [GiftError(1, "no questions found.")]
    if errors:
        raise GiftErrors(errors)
    return [r.question for r in results]


# Writing ---------------------------------------------------------------------------


def format_decimal(number: Decimal) -> str:
    """A Decimal as written by hand: 1234567, 3.14159265, 0.5 (no exponent, no zeros
    the value does not need)."""
    text = f"{Decimal(number).normalize():f}"
    return "0" if text in ("-0", "0") else text


def _percent(fraction: Decimal) -> str:
    return f"%{format_decimal(fraction * 100)}%"


def _text(value: str) -> str:
    text = escape(_clean(value))
    if FORMAT_MARK.match(text):
        return "[markdown]" + text  # Our text is Markdown; say so when it could mislead.
    return text


def numeric_written(answer) -> str:
    """A numeric answer (the question's own or another one) as GIFT writes it."""
    number = Decimal(answer.numeric_answer)
    tolerance = Decimal(answer.numeric_tolerance or 0)
    if answer.numeric_range:
        return f"{format_decimal(number - tolerance)}..{format_decimal(number + tolerance)}"
    return f"{format_decimal(number)}:{format_decimal(tolerance)}"


def _numeric_body(question) -> str:
    """{#1600:100#feedback} for one answer; else an answer a line, the right one first,
    each with its credit and feedback; ~#feedback last for any other answer."""
    right = _clean(question.right_feedback)
    wrong = _clean(question.wrong_feedback)
    right = f"#{_text(right)}" if right else ""
    wrong = f"~#{_text(wrong)}" if wrong else ""
    others = [c for c in question.choices.all() if c.numeric_answer is not None]
    if not others:
        return f"#{numeric_written(question)}{right}{wrong}"
    lines = [f"\n={numeric_written(question)}{right}"]
    for choice in others:
        credit = "" if choice.fraction == 1 else _percent(choice.fraction)
        feedback = _clean(choice.feedback)
        feedback = f"#{_text(feedback)}" if feedback else ""
        lines.append(f"\n={credit}{numeric_written(choice)}{feedback}")
    return "#" + "".join(lines) + (f"\n{wrong}" if wrong else "") + "\n"


def _expressible(question) -> bool:
    """Whether GIFT can say the question with its meaning: it has no case-sensitive
    short answers, and a matching prompt cannot hold the -> that ends it. Nor can a
    choice or an accepted answer, or its feedback: GIFT (Moodle too) reads an answer
    block with -> in it as matching pairs, and has no escape for it."""
    if question.kind == "short_answer" and question.case_sensitive:
        return False
    if question.kind == "matching":
        return not any("->" in _clean(c.text) for c in question.choices.all())
    if question.kind in ("single", "multiple", "short_answer"):
        return not any(
            "->" in _clean(c.text) or "->" in _clean(c.feedback) for c in question.choices.all()
        )
    return True


def _matching_body(question) -> str:
    """=prompt -> match a line, as Moodle writes it; = -> match an extra wrong match."""
    pairs = [
        f"\n={escape(_clean(c.text))} -> {escape(_clean(c.match))}" for c in question.choices.all()
    ]
    return "".join(pairs) + "\n"


def _question_text(question, block: str) -> str:
    """The text with its answer block: at the end, or where the text's one blank is
    (missing word) when words follow the blank."""
    text = _clean(question.text)
    if question.kind in BLANK_KINDS and count_blanks(text) == 1:
        before, after = BLANK.split(text)
        if after.strip():
            before, left, right, after = _blank_spacing(before, after)
            head = _text(before) if before else ""
            return f"{head}{left}{block}{right}{escape(after)}"
    return _text(text) + block


def export_gift(questions) -> tuple[str, list[str], list[str]]:
    """GIFT text for the questions it can express, the titles it left out, and what
    it lost of the questions it wrote, in words (a description's general feedback:
    GIFT has no place for it). Uncategorised questions come first (they need no
    $CATEGORY line), then each category's, in the order given."""
    out, skipped, lost, category = [], [], [], ""
    questions = sorted(questions, key=lambda q: (q.category is not None, _category_name(q)))
    for question in questions:
        if question.kind not in EXPORTED_KINDS or not _expressible(question):
            skipped.append(question.title)
            continue
        name = _category_name(question)
        if name != category:
            out.append(_category_line(name))
            category = name
        title = f"::{escape(_clean(question.title))}::"
        if question.kind == "description":
            out.append(f"{title}{_text(question.text)}\n")
            if _clean(question.feedback):
                lost.append(f"the general feedback of “{_clean(question.title)}”")
            continue
        general = _clean(question.feedback)
        general = f"####{_text(general)}" if general else ""
        if question.kind == "true_false":
            body = "TRUE" if question.true_false_answer else "FALSE"
            wrong, right = _clean(question.wrong_feedback), _clean(question.right_feedback)
            if wrong or right:
                body += f"#{_text(wrong)}"
            if right:
                body += f"#{_text(right)}"
        elif question.kind == "numeric":
            body = _numeric_body(question)
        elif question.kind == "short_text":
            body = ""
        elif question.kind == "matching":
            body = _matching_body(question)
        else:
            parts = []
            for choice in question.choices.all():
                if question.kind == "short_answer":
                    mark = "=" + (_percent(choice.fraction) if choice.fraction != 1 else "")
                elif question.kind == "single" and choice.fraction == 1:
                    mark = "="
                else:
                    mark = "~" + (_percent(choice.fraction) if choice.fraction else "")
                feedback = _clean(choice.feedback)
                feedback = f" #{escape(feedback)}" if feedback else ""
                parts.append(f"\n{mark}{escape(_clean(choice.text))}{feedback}")
            body = "".join(parts) + "\n"
        # GIFT cannot say what a question is worth: a comment Moodle ignores says it.
        worth = ""
        if question.points != DEFAULT_POINTS:
            worth = f"// points: {format_decimal(question.points)}\n"
        out.append(f"{worth}{title}{_question_text(question, f'{{{body}{general}}}')}\n")
    return "\n".join(out), skipped, lost


def _category_name(question) -> str:
    return _clean(question.category.name) if question.category else ""
