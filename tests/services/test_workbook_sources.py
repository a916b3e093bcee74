"""Messages name the workbook that was really read and what the person set to name it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.base import CommandError

from catalog.management.commands.import_albums import URL_WITHOUT_SCHEME
from catalog.services.download import (
    NOT_AN_XLSX_FILE,
    UNSUPPORTED_SCHEME,
    WORKBOOK_FILE_NOT_FOUND,
    WORKBOOK_MISSING_SCHEME,
    WORKBOOK_NOT_FOUND,
    WorkbookError,
    reading_message,
)
from catalog.services.workbook import load_workbook
from catalog.sources import source_label, source_origin
from tests.support.commands import import_albums as run
from tests.support.workbook_server import WorkbookServer


def load_error(source: str | None) -> str:
    with pytest.raises(WorkbookError) as error:
        load_workbook(source)
    return str(error.value)


@pytest.mark.parametrize(
    ("source", "label", "message"),
    [
        ("/srv/data/workbook.xlsx", "workbook.xlsx", "Reading workbook.xlsx..."),
        ("file:///srv/data/workbook.xlsx", "workbook.xlsx", "Reading workbook.xlsx..."),
        (
            "https://user:secret@docs.google.com/spreadsheets/d/abc/export?format=xlsx&token=t",
            "https://docs.google.com/spreadsheets/d/abc/export",
            "Downloading the workbook from docs.google.com...",
        ),
    ],
)
def test_the_source_is_named_by_its_file_name_or_its_url_without_secrets(source, label, message):
    """Messages and the history say "workbook.xlsx" or the URL without credentials or query."""
    assert source_label(source) == label
    assert reading_message(source) == message


def test_the_default_source_is_named_from_the_setting(settings):
    settings.GOOGLE_SHEETS_XLSX_URL = "https://docs.google.com/spreadsheets/d/x/export?format=xlsx"

    assert reading_message(None) == "Downloading the workbook from docs.google.com..."
    assert source_origin(None) == "GOOGLE_SHEETS_XLSX_URL"
    assert source_origin("https://example.com/x.xlsx") == "--url"
    assert source_origin("x.xlsx") == "--file"


def test_a_file_that_is_not_a_workbook_gets_file_advice(tmp_path: Path):
    """`--file README.md`: not told to check the sheet's XLSX export URL."""
    readme = tmp_path / "README.md"
    readme.write_text("# The catalog\n")

    message = load_error(str(readme))

    assert message == NOT_AN_XLSX_FILE.format(
        name="README.md", detail="not a zip archive", origin="--file"
    )
    assert "export?format=xlsx" not in message


def test_a_404_names_the_option_or_the_setting_that_gave_the_url(settings):
    """A 404 from --url says to check --url; from the setting, GOOGLE_SHEETS_XLSX_URL."""
    with WorkbookServer() as server:
        url = server.url_for("/nope")
        from_option = load_error(url)
        settings.GOOGLE_SHEETS_XLSX_URL = url
        from_setting = load_error(None)

    assert from_option == WORKBOOK_NOT_FOUND.format(url=url, origin="--url")
    assert from_setting == WORKBOOK_NOT_FOUND.format(url=url, origin="GOOGLE_SHEETS_XLSX_URL")


def test_an_unsupported_scheme_has_its_own_message_and_keeps_its_slashes():
    """ftp:// is not read as the path "ftp:/example.com/x.xlsx"."""
    message = load_error("ftp://example.com/x.xlsx")

    assert message == UNSUPPORTED_SCHEME.format(origin="--file", scheme="ftp")
    assert "ftp:/example.com" not in message


@pytest.mark.parametrize("source", ["127.0.0.1:8948/x.xlsx", "docs.google.com/spreadsheets/d/x"])
def test_a_web_address_without_its_scheme_is_told_so(source, settings):
    """A host written without http:// that is no file here: "write it with http://"."""
    settings.GOOGLE_SHEETS_XLSX_URL = source

    message = load_error(None)

    assert message == WORKBOOK_MISSING_SCHEME.format(path=source, origin="GOOGLE_SHEETS_XLSX_URL")


@pytest.mark.parametrize("name", ["exports/missing.xlsx", "releases.xlsx", "my.export.xlsx"])
def test_a_missing_relative_file_is_still_a_missing_file(tmp_path: Path, monkeypatch, name):
    """File names with dots are not taken for web addresses."""
    monkeypatch.chdir(tmp_path)

    assert load_error(name) == WORKBOOK_FILE_NOT_FOUND.format(path=name, origin="--file")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x.xlsx", UNSUPPORTED_SCHEME.format(origin="--url", scheme="ftp")),
        ("127.0.0.1:8948/x.xlsx", URL_WITHOUT_SCHEME.format(url="127.0.0.1:8948/x.xlsx")),
        ("/home/me/x.xlsx", URL_WITHOUT_SCHEME.format(url="/home/me/x.xlsx")),
    ],
)
def test_the_command_refuses_a_url_it_cannot_download(url, message):
    """--url takes http(s) only, said before anything runs (no database needed)."""
    with pytest.raises(CommandError) as raised:
        run("--url", url, "--skip-spotify")

    assert str(raised.value) == message
