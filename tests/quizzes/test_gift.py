from decimal import Decimal

import pytest

from cases.gift import GiftError, parse_gift

SAMPLE = r"""// A comment
$CATEGORY: $course$/Reading checks/Tencent

::Copy::QQ began as a copy of which service?{
=ICQ #Right.
~AOL Instant Messenger #No.
####QQ copied Israel's ICQ.
}

::Levers::Which did the center keep? {~%50%Finance ~%50%Basic research ~%-100%Exports}

::TF::Tencent is based in Shenzhen.{TRUE#It is in Shenzhen.#Right.}

::Year::In which year did Lenovo buy IBM's PC arm?{#2005:0}

::Range::Interviews?{#200..218}

::Essay::Argue it.{####Cite the case.}

::Colon::A ratio of 1\:2 and a \{brace\}?{=yes ~no}
"""


def test_every_gift_type_we_grade_is_read():
    questions = parse_gift(SAMPLE)
    kinds = [q.kind for q in questions]
    assert kinds == [
        "single",
        "multiple",
        "true_false",
        "numeric",
        "numeric",
        "short_text",
        "single",
    ]
    copy = questions[0]
    assert copy.category == "Reading checks/Tencent"
    assert copy.feedback == "QQ copied Israel's ICQ."
    assert [(c.text, c.fraction, c.feedback) for c in copy.choices] == [
        ("ICQ", Decimal(1), "Right."),
        ("AOL Instant Messenger", Decimal(0), "No."),
    ]
    assert [c.fraction for c in questions[1].choices] == [
        Decimal("0.5"),
        Decimal("0.5"),
        Decimal(-1),
    ]
    assert questions[2].true_false_answer is True
    assert (questions[3].numeric_answer, questions[3].numeric_tolerance) == (2005, 0)
    assert (questions[4].numeric_answer, questions[4].numeric_tolerance) == (209, 9)
    assert questions[6].text == "A ratio of 1:2 and a {brace}?"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("::A::Q {=a ~b}\n\n::B::No block here", 3, "no answer block"),
        ("::A::Q {=a ~b", 1, "not closed"),
        ("::A::Q {~a ~b}", 1, "no answer is marked right"),
        ("::A::Q {~%50%a ~%20%b ~c}", 1, "add up to 70"),
        ("::A::Q {#abc}", 1, "is not a number"),
        ("// only a comment", 1, "no questions"),
    ],
)
def test_a_malformed_file_names_the_line_and_the_reason(text, line, reason):
    with pytest.raises(GiftError) as error:
        parse_gift(text)
    assert error.value.line == line
    assert reason in error.value.reason.lower()
