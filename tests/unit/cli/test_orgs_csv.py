"""`telebridge orgs import` reads a spreadsheet's CSV into the registry's import rows."""

from __future__ import annotations

from pathlib import Path

import httpx
import msgspec
import pytest

from services.registry.schemas import ImportReport, ImportResult, OrganizationImport
from telebridge.client import ExitCode, Stop
from telebridge.orgs import (
    COLUMNS,
    FileError,
    RowError,
    import_rows,
    parse_boolean,
    parse_csv,
    parse_dates,
    parse_hours,
    parse_region,
    read_csv,
)

HEADER = ",".join(COLUMNS)


def _hours(start: str, end: str) -> dict[str, str]:
    return {"start": f"{start}:00", "end": f"{end}:00"}


def test_hours_name_days_and_ranges() -> None:
    assert parse_hours("mon-fri 09:00-18:00; sat 10:00-16:00") == {
        **{day: [_hours("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [_hours("10:00", "16:00")],
    }


def test_hours_take_several_ranges_a_day_in_order() -> None:
    assert parse_hours("tue 14:00-18:00, 9:00-13:00") == {
        "tue": [_hours("09:00", "13:00"), _hours("14:00", "18:00")]
    }


def test_hours_take_lists_of_days_russian_names_and_typographic_dashes() -> None:
    assert parse_hours("Sat, SUN 10:00 – 12:00; пн–ср: 08:30-17:00") == {
        "mon": [_hours("08:30", "17:00")],
        "tue": [_hours("08:30", "17:00")],
        "wed": [_hours("08:30", "17:00")],
        "sat": [_hours("10:00", "12:00")],
        "sun": [_hours("10:00", "12:00")],
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mon-fry 09:00-18:00", "'fry' is not a weekday"),
        ("fri-mon 09:00-18:00", "the first day must come before the last"),
        ("mon 9-18", "'9' is not a time as HH:MM"),
        ("mon 18:00-09:00", "the range must start before it ends"),
        ("mon 09:00-09:00", "the range must start before it ends"),
        ("mon 24:00-25:00", "'24:00' is not a time of day"),
        ("mon 09:00-12:00, 11:00-13:00", "the hours overlap"),
        ("mon-fri 09:00-18:00; fri 10:00-12:00", "fri is given more than once"),
        ("09:00-18:00", "names no days"),
        ("weekdays", "has no hours"),
        ("mon 09:00", "is not a range of hours"),
        (";", "names no days"),
    ],
)
def test_hours_that_cannot_be_read_say_why(text: str, reason: str) -> None:
    with pytest.raises(RowError, match=reason):
        parse_hours(text)


def test_dates_are_separated_by_spaces_or_semicolons_and_kept_once_in_order() -> None:
    assert parse_dates("2026-05-09; 2026-01-07 2026-03-08;2026-01-07") == [
        "2026-01-07",
        "2026-03-08",
        "2026-05-09",
    ]


@pytest.mark.parametrize("word", ["2026-02-30", "07.01.2026", "20260107", "tomorrow"])
def test_a_date_that_is_not_iso_is_refused(word: str) -> None:
    with pytest.raises(RowError, match=f"'{word}' is not a date as YYYY-MM-DD"):
        parse_dates(f"2026-01-07 {word}")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        ("Да", True),
        ("no", False),
        ("False", False),
        ("0", False),
        ("нет", False),
    ],
)
def test_booleans_in_english_russian_and_digits(text: str, value: bool) -> None:
    assert parse_boolean(text) is value


def test_a_boolean_that_is_neither_says_what_is_accepted() -> None:
    with pytest.raises(RowError, match="'maybe' is neither yes nor no"):
        parse_boolean("maybe")


@pytest.mark.parametrize(
    "text", ["RU-LIP", "ru-lip", "48", "Липецкая область", "липецкая  область", "Lipetsk Oblast"]
)
def test_a_region_is_found_by_code_number_or_name(text: str) -> None:
    assert parse_region(text) == "RU-LIP"


def test_an_unknown_region_is_a_row_error() -> None:
    with pytest.raises(RowError, match="'Atlantis' is not a region"):
        parse_region("Atlantis")


def test_a_full_row_becomes_an_import_row() -> None:
    parsed = parse_csv(
        f"{HEADER}\n"
        "lip-1,Липецкая областная детская библиотека,ЛОДБ,Library,48,Липецк,Europe/Moscow,"
        '"mon-fri 09:00-18:00; sat 10:00-16:00","2026-01-07 2026-01-08",'
        "Ольга Арутинова,olga@example.org,+7 4742 22-33-44,нет\n"
    )

    assert parsed.problems == []
    assert parsed.rows == [
        {
            "row": 2,
            "external_id": "lip-1",
            "name": "Липецкая областная детская библиотека",
            "short_name": "ЛОДБ",
            "kind": "library",
            "region": "RU-LIP",
            "city": "Липецк",
            "timezone": "Europe/Moscow",
            "working_hours": parse_hours("mon-fri 09:00-18:00; sat 10:00-16:00"),
            "blackout_dates": ["2026-01-07", "2026-01-08"],
            "contacts": [
                {
                    "name": "Ольга Арутинова",
                    "email": "olga@example.org",
                    "phone": "+7 4742 22-33-44",
                }
            ],
            "public": False,
        }
    ]


def test_empty_cells_are_left_out_for_the_registry_to_default() -> None:
    parsed = parse_csv("external_id,name,region,public,kind,city\n a-1 , Музей ,RU-MOW,,,\n")

    assert parsed.rows == [{"row": 2, "external_id": "a-1", "name": "Музей", "region": "RU-MOW"}]


def test_the_english_name_and_town_are_columns_too() -> None:
    parsed = parse_csv(
        "external_id,name,region,city,name_en,city_en\n"
        "lodb,Липецкая областная детская библиотека,RU-LIP,Липецк,"
        "Lipetsk Regional Children's Library,Lipetsk\n"
    )

    assert parsed.problems == []
    assert parsed.ignored_columns == []
    [row] = parsed.rows
    assert (row["name_en"], row["city_en"]) == ("Lipetsk Regional Children's Library", "Lipetsk")


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    parsed = parse_csv(
        "external_id,name,region\n"
        "a,A,RU-LIP\n"
        "\n"  # a blank row 3 is skipped but counted
        'b,"Two\nlines",RU-LIP\n'  # one row in a spreadsheet, though two lines in the file
        "c,,RU-LIP\n"
        ",,\n"  # a row of empty cells, as spreadsheets export them, is skipped too
        "d,D,Atlantis\n"
    )

    assert [row["row"] for row in parsed.rows] == [2, 4]
    assert [(problem.row, problem.external_id) for problem in parsed.problems] == [
        (5, "c"),
        (7, "d"),
    ]
    assert parsed.total == 4


def test_each_bad_row_says_everything_wrong_with_it() -> None:
    parsed = parse_csv(
        "external_id,name,region,working_hours,blackout_dates,public,kind,contact_email\n"
        ",,Atlantis,mon 9-18,2026-13-01,maybe,zoo,a@example.org\n"
    )

    [problem] = parsed.problems
    assert parsed.rows == []
    assert problem.row == 2
    for reason in (
        "external_id is empty",
        "name is empty",
        "region: 'Atlantis' is not a region",
        "working_hours: '9' is not a time as HH:MM",
        "blackout_dates: '2026-13-01' is not a date",
        "public: 'maybe' is neither yes nor no",
        "kind: 'zoo' is not one of library, museum, school, university, other",
        "contact_email and contact_phone need a contact_name",
    ):
        assert reason in problem.reason


def test_an_empty_region_is_a_row_error() -> None:
    parsed = parse_csv("external_id,name,region\na,A,\n")

    assert [problem.reason for problem in parsed.problems] == ["region is empty"]


def test_a_second_row_with_the_same_external_id_is_reported() -> None:
    parsed = parse_csv("external_id,name,region\na,A,RU-LIP\nb,B,RU-LIP\na,A again,RU-MOW\n")

    assert [row["external_id"] for row in parsed.rows] == ["a", "b"]
    [problem] = parsed.problems
    assert (problem.row, problem.reason) == (4, "external_id 'a' was already given on row 2")


def test_cells_beyond_the_header_are_an_error_unless_empty() -> None:
    parsed = parse_csv("external_id,name,region\na,A,RU-LIP,,\nb,B,RU-LIP,oops\n")

    assert [row["external_id"] for row in parsed.rows] == ["a"]
    assert [problem.reason for problem in parsed.problems] == [
        "4 cells, but the header names 3 columns"
    ]


def test_short_rows_have_empty_cells() -> None:
    parsed = parse_csv("external_id,name,region,city,public\na,A,RU-LIP\n")

    assert parsed.rows == [{"row": 2, "external_id": "a", "name": "A", "region": "RU-LIP"}]


def test_the_header_is_matched_in_any_order_and_case_and_unknown_columns_are_named() -> None:
    parsed = parse_csv(" Region ;NAME;external_id;notes\nRU-LIP;A;a;ignored\n", delimiter=";")

    assert parsed.rows == [{"row": 2, "external_id": "a", "name": "A", "region": "RU-LIP"}]
    assert parsed.ignored_columns == ["notes"]


def test_missing_header_columns_are_named() -> None:
    with pytest.raises(FileError, match=r"lacks the required columns external_id, region$"):
        parse_csv("name,city\nA,Липецк\n")


def test_a_header_separated_by_semicolons_suggests_the_delimiter() -> None:
    with pytest.raises(FileError, match="try --delimiter ';'"):
        parse_csv("external_id;name;region\na;A;RU-LIP\n")


def test_a_file_without_a_header_says_the_first_row_must_name_the_columns() -> None:
    with pytest.raises(FileError, match="the first row must name the columns"):
        parse_csv("a,A,RU-LIP\n")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(FileError, match="the file is empty"):
        parse_csv("")


def test_a_header_naming_a_column_twice_is_refused() -> None:
    with pytest.raises(FileError, match="the header names name more than once"):
        parse_csv("external_id,name,region,name\n")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_files_are_utf8_with_or_without_a_bom(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "orgs.csv"
    path.write_bytes(bom + "external_id,name,region\nлип-1,Библиотека,48\n".encode())

    parsed = read_csv(path)

    assert parsed.rows == [
        {"row": 2, "external_id": "лип-1", "name": "Библиотека", "region": "RU-LIP"}
    ]


def test_a_file_in_another_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_bytes("external_id,name,region\nа,Библиотека,48\n".encode("cp1251"))

    with pytest.raises(FileError, match="is not UTF-8 text"):
        read_csv(path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "is a spreadsheet workbook, not CSV"),
        (b"\x00\x01\x02binary", "it holds binary data"),
    ],
)
def test_a_file_that_is_not_csv_is_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "orgs.xlsx"
    path.write_bytes(data)

    with pytest.raises(FileError, match=reason):
        read_csv(path)


def test_a_batch_the_registry_fails_says_which_rows_went_in_before_it() -> None:
    """The rows are sent as the registry's own OrganizationImport, its ImportReport read."""
    answers = iter([200, 503])

    def registry(request: httpx.Request) -> httpx.Response:
        sent = msgspec.json.decode(request.content, type=OrganizationImport)
        status = next(answers)
        if status != 200:
            return httpx.Response(status, json={"type": "x", "title": "Down", "status": status})
        results = [ImportResult(row["row"], "created") for row in sent.rows]
        return httpx.Response(200, content=msgspec.json.encode(ImportReport(False, results)))

    parsed = parse_csv("external_id,name,region\n" + "".join(f"o{n},O,RU-LIP\n" for n in range(3)))
    client = httpx.Client(base_url="http://registry", transport=httpx.MockTransport(registry))

    with pytest.raises(Stop) as stopped:
        import_rows(client, parsed, batch_size=2)

    assert stopped.value.code == ExitCode.SERVER_ERROR
    assert str(stopped.value) == (
        "server error: 503 Down\nthe 2 rows sent before this were imported"
    )
