"""The demo's reading checks against standard item-writing rules that a test can check:
the key is never the longest option by a clear margin (students learn to pick it), no
option is "all of the above" or "none of the above", and every question teaches through
its feedback."""

import re

import pytest

from cases.demo.seed import QUIZ_FILES
from cases.gift import parse_gift

GIFT_FILES = sorted(QUIZ_FILES.glob("*.gift"))
# A key this much longer than the longest distractor gives itself away.
MARGIN = 1.15
# Questions allowed to break the rule, by file: none since the rewrite of issue 21.
KNOWN: dict[str, set[str]] = {}


def _choice_questions(path):
    return [q for q in parse_gift(path.read_text(encoding="utf-8")) if q.kind == "single"]


def longest_key_questions(path) -> list[str]:
    """Titles of single-choice questions whose right answer is the longest option by more
    than MARGIN (measured in characters)."""
    flagged = []
    for question in _choice_questions(path):
        keys = [len(c.text) for c in question.choices if c.fraction == 1]
        others = [len(c.text) for c in question.choices if c.fraction < 1]
        if keys and others and min(keys) > MARGIN * max(others):
            flagged.append(question.title)
    return flagged


def test_the_check_flags_a_key_that_gives_itself_away(tmp_path):
    path = tmp_path / "check.gift"
    path.write_text(
        "::Tell::Why did it fail?{=Because the standard met resistance from foreign firms "
        "and was delayed ~Cost ~Weather}\n\n::Fair::Which city?{=Beijing ~Shanghai ~Shenzhen}"
    )
    assert longest_key_questions(path) == ["Tell"]


@pytest.mark.parametrize("path", GIFT_FILES, ids=lambda p: p.stem)
def test_no_key_is_the_longest_option_by_a_margin(path):
    assert set(longest_key_questions(path)) <= KNOWN.get(path.stem, set())


@pytest.mark.parametrize("path", GIFT_FILES, ids=lambda p: p.stem)
def test_no_option_is_all_or_none_of_the_above_and_every_question_teaches(path):
    for question in parse_gift(path.read_text(encoding="utf-8")):
        for choice in question.choices:
            assert not re.search(r"\b(all|none) of (the|these)\b", choice.text, re.I), (
                question.title
            )
        if question.kind != "description":
            assert question.feedback, f"{question.title} has no general feedback"
