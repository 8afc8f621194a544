"""Quotation marks as each language's typography nests them: the one way the services quote
a title (or any name) in a text for people.

Russian quotes in «ёлочки» and, inside them, in „лапки“: «Приглашаем вас на встречу
«Телемост „Читаем вместе“»», never «…«…»…». English quotes in “double” and, inside them,
‘single’ marks. A title brings its own quotation marks with it («Телемост «Читаем
вместе»», "Телемост "Читаем вместе""); `quoted` moves each of them one level down.
"""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["ru", "en"]

_LEVELS: Final[dict[Language, tuple[tuple[str, str], tuple[str, str]]]] = {
    "ru": (("«", "»"), ("„", "“")),
    "en": (("“", "”"), ("‘", "’")),
}
"""The marks of the outer level and of the one inside it; deeper levels alternate."""
_AFTER_OPENING: Final = frozenset(" \t\n([{«„“—–-/")
"""What a straight quotation mark that opens follows (or nothing: the start of the text)."""


def quoted(text: str, language: Language = "ru") -> str:
    """`text` in the quotation marks of `language`, the quotations inside it one level
    down: «Телемост „Читаем вместе“» for `Телемост «Читаем вместе»`, “Club ‘Reading’”
    for `Club “Reading”`. A text that is one quotation already is quoted once."""
    pairs = _pairs(text)
    if (0, len(text) - 1) in pairs:
        return quoted(text[1:-1], language)
    marks = list(text)
    for (opening, closing), depth in pairs.items():
        marks[opening], marks[closing] = _LEVELS[language][(depth + 1) % 2]
    outer_open, outer_close = _LEVELS[language][0]
    return f"{outer_open}{''.join(marks)}{outer_close}"


def _pairs(text: str) -> dict[tuple[int, int], int]:
    """Where each quotation in `text` opens and closes, with how deep it is (0: not inside
    another). A mark without its other half is left as it is."""
    pairs: dict[tuple[int, int], int] = {}
    open_marks: list[tuple[int, str]] = []
    for index, mark in enumerate(text):
        top = open_marks[-1][1] if open_marks else None
        if mark == '"':  # the same mark both ways: it opens where a word could begin
            opens = index == 0 or text[index - 1] in _AFTER_OPENING
            closes = not opens and top == '"'
        else:
            closes = (
                (mark == "»" and top == "«")
                or (mark == "“" and top == "„")
                or (mark == "”" and top in ("“", "„"))
            )
            opens = not closes and mark in "«„“"
        if closes:
            opening, _ = open_marks.pop()
            pairs[(opening, index)] = len(open_marks)
        elif opens:
            open_marks.append((index, mark))
    return pairs
