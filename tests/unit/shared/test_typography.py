"""Titles are quoted as Russian and English typography nest quotation marks, by one helper
that every text for people uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.typography import quoted
from tests.support import nesting_failures

ROOT = Path(__file__).parents[3]


@pytest.mark.parametrize(
    ("title", "russian", "english"),
    [
        ("Читаем вместе", "«Читаем вместе»", "“Читаем вместе”"),
        ("Телемост «Читаем вместе»", "«Телемост „Читаем вместе“»", "“Телемост ‘Читаем вместе’”"),
        ('Телемост "Читаем вместе"', "«Телемост „Читаем вместе“»", "“Телемост ‘Читаем вместе’”"),
        ("Club “Reading”", "«Club „Reading“»", "“Club ‘Reading’”"),
        ("Клуб „Книга“", "«Клуб „Книга“»", "“Клуб ‘Книга’”"),
        ("«Активное долголетие»", "«Активное долголетие»", "“Активное долголетие”"),
        ("«A» и «B»", "«„A“ и „B“»", "“‘A’ и ‘B’”"),
        ("Проект «Память «Войны»»", "«Проект „Память «Войны»“»", "“Проект ‘Память “Войны”’”"),
        ('5" экран', '«5" экран»', '“5" экран”'),
        ("«незакрытая", "««незакрытая»", "“«незакрытая”"),
    ],
)
def test_the_quotations_inside_a_title_go_one_level_down(
    title: str, russian: str, english: str
) -> None:
    assert quoted(title) == russian
    assert quoted(title, "en") == english


WORDS = st.sampled_from(["Телемост", "Память", "Читаем вместе", "—", "("])
TITLES = st.recursive(
    WORDS,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(" ".join),
        st.tuples(st.sampled_from(["«»", "„“"]), inner).map(lambda t: t[0][0] + t[1] + t[0][1]),
    ),
    max_leaves=10,
)
"""Titles whose quotations are written as Russian writes them, nested any way at all."""


@given(TITLES)
def test_any_title_comes_out_with_its_quotations_nested_as_russian_nests_them(
    title: str,
) -> None:
    assert not nesting_failures(quoted(title))
    marks = re.compile("[«»„“]")
    assert marks.sub("", quoted(title)) == marks.sub("", title)  # only the marks change


SOURCES = [
    path
    for folder in ("shared", "services", "telebridge")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if path != ROOT / "shared" / "typography.py"
]
HAND_QUOTED = re.compile(r"[«„“‘]\{[^}]*\}[»“”’]")
"""A value put between quotation marks by hand: «{title}»."""


def test_no_text_for_people_quotes_a_value_by_hand() -> None:
    """Every title, name or value quoted goes through `quoted`, which nests."""
    assert len(SOURCES) > 50
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if HAND_QUOTED.search(line)
    ]
    assert not found, "\n".join(found)
