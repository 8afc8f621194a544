"""English as a summary's reader expects it: Russian proper names in Latin letters, and
the article the names of republics and autonomous subjects take in a sentence. Pure.

Names an organization gave in English (`name_en`, `city_en`) are used as they are; others
are transliterated with the Wikipedia scheme of `iuliia` (maintained, and the one English
texts about Russia read most: «Ульяновск» is Ulyanovsk, not Ul’yanovsk).
"""

from __future__ import annotations

import re

import iuliia

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_WITH_ARTICLE = re.compile(r"\b(Republic|Autonomous)\b")


def latin(text: str) -> str:
    """`text` with its Cyrillic transliterated; text without Cyrillic is left as it is."""
    if not _CYRILLIC.search(text):
        return text
    return str(iuliia.WIKIPEDIA.translate(text))


def in_sentence(region_name: str) -> str:
    """A region's English name as a sentence uses it: "the Republic of Buryatia", "the
    Chuvash Republic", "the Jewish Autonomous Oblast"; "Lipetsk Oblast", "Moscow"."""
    return f"the {region_name}" if _WITH_ARTICLE.search(region_name) else region_name
