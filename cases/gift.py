"""Moodle's GIFT question format: read it into plain data and write it back.

Covers the types GIFT can express and Red Queen grades: single and multiple choice
(with per-answer weights and feedback), true/false, numeric (with tolerance or a
range), and essays (our short text, graded by a person). GIFT's short-answer type is
imported as short text for a person to grade. Likert and spectrum questions have no GIFT
form and are left out of an export."""

import re
from dataclasses import dataclass, field
from decimal import Decimal

SPECIAL = "~=#{}:"


class GiftError(ValueError):
    def __init__(self, line: int, reason: str):
        super().__init__(f"Line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass
class GiftChoice:
    text: str
    fraction: Decimal
    feedback: str = ""


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
    numeric_answer: float | None = None
    numeric_tolerance: float = 0.0


def unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:\\n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def escape(text: str) -> str:
    return "".join("\\" + ch if ch in SPECIAL + "\\" else ch for ch in text).replace("\n", "\\n")


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


def _answer_and_feedback(chunk: str) -> tuple[str, str]:
    parts = _split_unescaped(chunk, "#")
    answer = unescape(parts[0][1]).strip()
    feedback = unescape("#".join(p for _, p in parts[1:])).strip()
    return answer, feedback


def _parse_body(body: str, line: int, question: GiftQuestion) -> None:
    general = _find_unescaped(body, "####")
    if general != -1:
        question.feedback = unescape(body[general + 4 :]).strip()
        body = body[:general]
    stripped = body.strip()
    if stripped == "":
        question.kind = "short_text"
        return
    upper = stripped.split("#", 1)[0].strip().upper()
    if upper in {"T", "TRUE", "F", "FALSE"}:
        question.kind = "true_false"
        question.true_false_answer = upper.startswith("T")
        return
    if stripped.startswith("#"):
        question.kind = "numeric"
        answers = [c for m, c in _split_unescaped(stripped[1:], "=") if c.strip()]
        value, _feedback = _answer_and_feedback(answers[0])
        value = re.sub(r"^%-?\d+(\.\d+)?%", "", value)
        try:
            if ".." in value:
                low, high = (float(x) for x in value.split(".."))
                question.numeric_answer = (low + high) / 2
                question.numeric_tolerance = (high - low) / 2
            else:
                number, _, tolerance = value.partition(":")
                question.numeric_answer = float(number)
                question.numeric_tolerance = float(tolerance or 0)
        except ValueError:
            raise GiftError(
                line, f"'{value}' is not a number, a number:tolerance or a range."
            ) from None
        return
    pieces = [(m, c) for m, c in _split_unescaped(stripped, "=~") if m]
    if not pieces:
        raise GiftError(line, "the answer block has no answers (start each with = or ~).")
    choices = []
    for mark, chunk in pieces:
        answer, feedback = _answer_and_feedback(chunk)
        weight = re.match(r"^%(-?\d+(?:\.\d+)?)%", answer)
        if weight:
            fraction = Decimal(weight.group(1)) / 100
            answer = answer[weight.end() :].strip()
        else:
            fraction = Decimal(1) if mark == "=" else Decimal(0)
        if not answer:
            raise GiftError(line, "an answer is empty.")
        if not -1 <= fraction <= 1:
            raise GiftError(line, f"the weight of '{answer}' is outside -100%..100%.")
        choices.append(GiftChoice(answer, fraction, feedback))
    if all(mark == "=" for mark, _ in pieces):
        question.kind = "short_text"  # GIFT short answer: a person grades ours.
        return
    question.choices = choices
    right = [c for c in choices if c.fraction > 0]
    if not right:
        raise GiftError(line, "no answer is marked right (= or a positive %weight%).")
    if len(right) == 1 and right[0].fraction == 1:
        question.kind = "single"
    else:
        question.kind = "multiple"
        total = sum(c.fraction for c in right)
        if abs(total - 1) > Decimal("0.011"):
            raise GiftError(line, f"the right answers' weights add up to {total * 100}%, not 100%.")


def parse_gift(text: str) -> list[GiftQuestion]:
    """Parse a GIFT file; raise GiftError naming the line of the first problem."""
    questions: list[GiftQuestion] = []
    category = ""
    block: list[str] = []
    block_line = 0
    lines = text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")

    def flush():
        nonlocal block
        source = "\n".join(block).strip()
        block = []
        if source:
            questions.append(_parse_question(source, block_line, category))

    for number, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            continue
        if line.startswith("$CATEGORY:"):
            flush()
            category = line.split(":", 1)[1].strip()
            if category.startswith("$course$/"):
                category = category[len("$course$/") :]
            continue
        if not line.strip():
            flush()
            continue
        if not block:
            block_line = number
        block.append(line)
    flush()
    if not questions:
        raise GiftError(1, "no questions found.")
    return questions


def _parse_question(source: str, line: int, category: str) -> GiftQuestion:
    title = ""
    if source.startswith("::"):
        end = _find_unescaped(source, "::", 2)
        if end == -1:
            raise GiftError(line, "the title is not closed with ::.")
        title = unescape(source[2:end]).strip()
        source = source[end + 2 :]
    open_at = _find_unescaped(source, "{")
    if open_at == -1:
        raise GiftError(line, "no answer block: add { … } after the question text.")
    close_at = _find_unescaped(source, "}", open_at)
    if close_at == -1:
        raise GiftError(line, "the answer block is not closed with }.")
    text = unescape(source[:open_at] + " " + source[close_at + 1 :]).strip()
    text = re.sub(r"^\[(html|markdown|plain|moodle)\]", "", text).strip()
    if not text:
        raise GiftError(line, "the question has no text.")
    question = GiftQuestion(
        line=line, kind="", title=title or text[:60], text=text, category=category
    )
    _parse_body(source[open_at + 1 : close_at], line, question)
    return question


def _percent(fraction: Decimal) -> str:
    value = (fraction * 100).normalize()
    return f"%{value:f}%"


def export_gift(questions) -> tuple[str, list[str]]:
    """GIFT text for the questions it can express, and the titles it left out."""
    out, skipped, category = [], [], None
    for question in questions:
        if question.kind in ("likert", "spectrum"):
            skipped.append(question.title)
            continue
        name = question.category.name if question.category else ""
        if name != category:
            out.append(f"$CATEGORY: {name}\n")
            category = name
        head = f"::{escape(question.title)}::{escape(question.text)}"
        general = f"####{escape(question.feedback)}" if question.feedback else ""
        if question.kind == "true_false":
            body = "TRUE" if question.true_false_answer else "FALSE"
        elif question.kind == "numeric":
            body = f"#{question.numeric_answer:g}:{question.numeric_tolerance:g}"
        elif question.kind == "short_text":
            body = ""
        else:
            parts = []
            for choice in question.choices.all():
                if question.kind == "single":
                    mark = "=" if choice.fraction == 1 else "~"
                else:
                    mark = "~" + (_percent(choice.fraction) if choice.fraction else "")
                feedback = f" #{escape(choice.feedback)}" if choice.feedback else ""
                parts.append(f"\n{mark}{escape(choice.text)}{feedback}")
            body = "".join(parts) + "\n"
        out.append(f"{head}{{{body}{general}}}\n")
    return "\n".join(out), skipped


# Provisional read_gift (replaced by the importer's own at merge).
@dataclass
class GiftRefusal:
    line: int
    title: str
    reason: str
    fix: str


@dataclass
class GiftResult:
    line: int
    question: "GiftQuestion | None"
    refusal: GiftRefusal | None


class GiftErrors(ValueError):
    def __init__(self, errors: list[GiftError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _gift_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, source, category) of each question, split the way parse_gift splits."""
    blocks: list[tuple[int, str, str]] = []
    category, block, block_line = "", [], 0
    for number, raw in enumerate(text.replace("\r\n", "\n").lstrip("\ufeff").split("\n"), 1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            continue
        if line.startswith("$CATEGORY:") or not line.strip():
            if block:
                blocks.append((block_line, "\n".join(block).strip(), category))
                block = []
            if line.startswith("$CATEGORY:"):
                category = line.split(":", 1)[1].strip().removeprefix("$course$/")
            continue
        if not block:
            block_line = number
        block.append(line)
    if block:
        blocks.append((block_line, "\n".join(block).strip(), category))
    return blocks


def read_gift(text: str) -> list[GiftResult]:
    results = []
    for line, source, category in _gift_blocks(text):
        try:
            question = _parse_question(source, line, category)
        except GiftError as error:
            title = source.removeprefix("::").split("::", 1)[0] if source.startswith("::") else ""
            title = (title or source)[:60]
            fix = "Correct this question in the file and upload it again, or leave it out."
            refusal = GiftRefusal(line=error.line, title=title, reason=error.reason, fix=fix)
            results.append(GiftResult(line=line, question=None, refusal=refusal))
        else:
            results.append(GiftResult(line=line, question=question, refusal=None))
    return results
