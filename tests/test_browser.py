"""The UI in a real browser (Debian's headless Chromium via Playwright): an answer with its
Sources block, clear/retry/undo, and an article full of HTML that must stay visible text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import serving
from test_ui import DRONES_Q, DRONES_TITLE, load_ui

from assistant import Assistant
from assistant.settings import PROJECT_DIR

ui = load_ui()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_DIR / "artifacts"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
XSS_ARTICLE = f"""---
title: 'Harbour festival {SCRIPT} opens in Klaipeda'
date: 2022-12-28
source: 'Port Gazette {IMG}'
url: "javascript:window.__xss=3"
---

The Klaipeda harbour festival {SCRIPT} opened on 28 December with a parade of 40 tall ships.
Organisers said {IMG} about 12,000 visitors came on the first day; tickets cost $$5$$ and
*nothing* [else](javascript:window.__xss=4) {{{{value}}}} was charged.
"""
XSS_Q = "How many tall ships paraded when the Klaipeda harbour festival opened?"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def ask_in_page(page: Any, question: str, answers_before: int) -> Any:
    """Type a question, wait for its answer's Sources block, open it and return it."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    block = page.locator("details.sources").nth(answers_before)
    block.wait_for(timeout=90_000)
    block.locator("summary").click()
    return block


def test_answer_sources_and_untrusted_html_in_the_browser(
    browser: Any, index_copy: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    article = tmp_path / "harbour-festival.md"
    article.write_text(XSS_ARTICLE, encoding="utf-8")
    assistant = Assistant(index_dir=index_copy, llm={"backend": "passages"})
    assert assistant.add_articles([article]).added

    with serving(ui.build_app(assistant), css=ui.CSS) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)

        # An answer, then its Sources block opened: title, meta and the marked passage.
        sources = ask_in_page(page, DRONES_Q, 0)
        expect(sources).to_have_attribute("open", "")
        expect(sources.get_by_text(DRONES_TITLE).first).to_be_visible()
        expect(sources.locator("mark").first).to_contain_text("30 of them were destroyed")
        answer = page.locator('[data-testid="bot"]').filter(has=page.locator("details.sources"))
        expect(answer.first).to_contain_text("30 of them were destroyed")
        sources.locator("summary").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-answer.png"))

        # Clear empties the conversation (so the next question stands alone).
        page.get_by_role("button", name="Clear").click()
        expect(page.locator('[data-testid="user"]')).to_have_count(0)

        # The article's HTML is shown as text, in the answer and in its sources; none runs.
        xss = ask_in_page(page, XSS_Q, 0)
        expect(xss).to_contain_text(SCRIPT)
        expect(xss).to_contain_text(IMG)
        expect(page.get_by_text(SCRIPT).first).to_be_visible()
        assert xss.locator("a").count() == 0  # a javascript: url is not made a link
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
        page.screenshot(path=str(ARTIFACTS / "ui-untrusted-html.png"))

        # Retry answers the last question again in place; undo takes the turn back.
        page.get_by_role("button", name="Retry").click()
        expect(page.locator('[data-testid="user"]')).to_have_count(1)
        expect(page.locator("details.sources")).to_have_count(1, timeout=60_000)
        expect(page.locator("details.sources")).to_contain_text("Klaipeda")
        page.get_by_role("button", name="Undo").click()
        expect(page.locator('[data-testid="user"]')).to_have_count(0)
        expect(page.locator("details.sources")).to_have_count(0)
        expect(page.locator("#question textarea")).to_have_value(XSS_Q)

        # The Articles tab lists the same title and source as text too.
        page.get_by_role("tab", name="Articles").click()
        expect(page.get_by_text(SCRIPT).first).to_be_visible()
        expect(page.get_by_text(IMG).first).to_be_visible()
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert not errors, errors


def test_a_viewer_sees_no_upload_or_remove_controls(
    browser: Any, index_copy: Path, tmp_path: Path
) -> None:
    """Logged in through the login page: the editor gets the Articles tab, the viewer chats
    but has no Articles tab, no upload and no remove control."""
    from playwright.sync_api import expect

    from assistant.users import Users, hash_password

    users_file = tmp_path / "users.toml"
    users_file.write_text(
        f'[users.vera]\nrole = "viewer"\npassword_hash = "{hash_password("v pw")}"\n'
        f'[users.ed]\nrole = "editor"\npassword_hash = "{hash_password("e pw")}"\n'
    )
    users = Users.from_file(users_file)
    assistant = Assistant(index_dir=index_copy, llm={"backend": "passages"})
    with serving(ui.build_app(assistant, users), auth=users.check) as url:
        for name, password, editor in (("ed", "e pw", True), ("vera", "v pw", False)):
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.get_by_label("username").fill(name)
            page.get_by_label("password").fill(password)
            page.get_by_role("button", name="Login").click()
            sources = ask_in_page(page, DRONES_Q, 0)  # both roles chat
            expect(sources.get_by_text(DRONES_TITLE).first).to_be_visible()
            articles_tab = page.get_by_role("tab", name="Articles")
            if editor:
                articles_tab.click()
                expect(page.get_by_role("button", name="Add to index")).to_be_visible()
                expect(page.get_by_role("button", name="Remove")).to_be_visible()
            else:
                expect(articles_tab).to_have_count(0)
                expect(page.get_by_role("button", name="Add to index")).not_to_be_visible()
                expect(page.get_by_role("button", name="Remove")).not_to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "ui-viewer.png"))
            context.close()
