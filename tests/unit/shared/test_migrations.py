"""Finding migration files; applying them is tested against PostgreSQL elsewhere."""

from __future__ import annotations

from pathlib import Path

from shared.migrations import KERNEL_MIGRATIONS, discover


def test_discover_reads_sql_files_in_the_order_their_names_sort(tmp_path: Path) -> None:
    (tmp_path / "002_people.sql").write_text("CREATE TABLE people ();", encoding="utf-8")
    (tmp_path / "001_organizations.sql").write_text("CREATE TABLE orgs ();", encoding="utf-8")
    (tmp_path / "010_later.sql").write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a migration", encoding="utf-8")
    (tmp_path / "003_draft.sql.bak").write_text("DROP TABLE orgs;", encoding="utf-8")

    migrations = discover("registry", tmp_path)

    assert [m.version for m in migrations] == ["001_organizations", "002_people", "010_later"]
    assert {m.source for m in migrations} == {"registry"}
    assert migrations[0].sql == "CREATE TABLE orgs ();"


def test_discover_reads_utf8_whatever_the_locale(tmp_path: Path) -> None:
    text = "COMMENT ON TABLE t IS 'Организации — участники';"
    (tmp_path / "001_comment.sql").write_bytes(text.encode("utf-8"))

    assert discover("agenda", tmp_path)[0].sql == text


def test_an_empty_folder_has_no_migrations(tmp_path: Path) -> None:
    assert discover("agenda", tmp_path) == []


def test_the_checksum_follows_the_text(tmp_path: Path) -> None:
    path = tmp_path / "001_init.sql"
    path.write_text("CREATE TABLE a (id uuid);", encoding="utf-8")
    first = discover("shared", tmp_path)[0].checksum
    again = discover("shared", tmp_path)[0].checksum

    path.write_text("CREATE TABLE a (id uuid, name text);", encoding="utf-8")
    edited = discover("shared", tmp_path)[0].checksum

    assert first == again
    assert edited != first
    assert len(first) == 64
    assert int(first, 16) >= 0  # hexadecimal


def test_the_kernel_ships_its_own_migrations() -> None:
    migrations = discover("shared", KERNEL_MIGRATIONS)

    assert migrations
    text = "\n".join(m.sql for m in migrations).lower()
    assert "outbox" in text
    assert "inbox" in text
