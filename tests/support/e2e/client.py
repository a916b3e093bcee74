"""HTTP helpers for the end-to-end tests: a staff session over `requests`, and reading the panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import requests

from tests.support.e2e.deadlines import scaled
from tests.support.processes import STAFF_PASSWORD, STAFF_USERNAME

LOGIN_PATH = "/admin/login/"
ALBUMS_PATH = "/catalog/albums/"
TRIGGER_PATH = "/catalog/sync/trigger/"
STATUS_PATH = "/catalog/sync/status/"
CANCEL_PATH = "/catalog/sync/cancel/"
HISTORY_PATH = "/catalog/sync/history/"
TIMEOUT = scaled(15)  # one request, on a busy machine
TERMINAL_STATUSES = ("completed", "failed", "cancelled")


class AppClient:
    """A `requests` session against one app server; `login()` makes it a staff session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def login(self, *, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> None:
        self.session.get(self.base_url + LOGIN_PATH, timeout=TIMEOUT).raise_for_status()
        response = self.session.post(
            self.base_url + LOGIN_PATH,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.csrf_token,
                "next": ALBUMS_PATH,
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 302, f"login failed: {response.status_code}"
        assert "sessionid" in self.session.cookies, "login set no session cookie"

    @property
    def csrf_token(self) -> str:
        return self.session.cookies.get("csrftoken") or ""

    @property
    def session_id(self) -> str:
        return self.session.cookies.get("sessionid") or ""

    def _post_headers(self) -> dict[str, str]:
        # As htmx sends it: the token from the cookie in the header, and HX-Request.
        return {"X-CSRFToken": self.csrf_token, "HX-Request": "true"}

    def trigger(self) -> requests.Response:
        return self.session.post(
            self.base_url + TRIGGER_PATH, headers=self._post_headers(), timeout=TIMEOUT
        )

    def cancel(self) -> requests.Response:
        return self.session.post(
            self.base_url + CANCEL_PATH, headers=self._post_headers(), timeout=TIMEOUT
        )

    def status(self) -> dict[str, Any]:
        """The status JSON (the contract's keys)."""
        response = self.session.get(
            self.base_url + STATUS_PATH, headers={"Accept": "application/json"}, timeout=TIMEOUT
        )
        response.raise_for_status()
        return response.json()

    def panel_html(self) -> str:
        """The status fragment, as the panel's poll gets it."""
        response = self.session.get(
            self.base_url + STATUS_PATH, headers={"HX-Request": "true"}, timeout=TIMEOUT
        )
        response.raise_for_status()
        return response.text

    def page(self, path: str = ALBUMS_PATH) -> str:
        response = self.session.get(self.base_url + path, timeout=TIMEOUT)
        response.raise_for_status()
        return response.text


# --- reading HTML -----------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children_text: list[str] = field(default_factory=list)

    def has(self, attribute: str) -> bool:
        return attribute in self.attrs


_VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Finder(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.found: Element | None = None
        self.depth = 0  # open elements inside the found one (same tag or not)
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if self.found is None:
            attributes = dict(attrs)
            if attributes.get("id") == self.element_id:
                self.found = Element(tag, attributes)
                self.depth = 0 if tag in _VOID else 1
                self.done = tag in _VOID
            return
        if tag not in _VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.found is None or self.done:
            return
        self.depth -= 1
        if self.depth <= 0:
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.found is not None and not self.done:
            self.found.children_text.append(data)


def find_element(html: str, element_id: str) -> Element | None:
    """The element with `id`, its attributes and its text (whitespace folded), or None."""
    finder = _Finder(element_id)
    finder.feed(html)
    finder.close()
    if finder.found is not None:
        finder.found.text = " ".join("".join(finder.found.children_text).split())
    return finder.found
