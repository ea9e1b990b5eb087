"""Accounts and roles: the users file, the hash helper, and the real server refusing a viewer's
index changes through the API (not only hiding the controls)."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import serving
from test_ui import BRIDGE_TEXT, BRIDGE_TITLE, DRONES_Q, answer_and_sources, ask, ui

from assistant import Assistant, AssistantError, Settings
from assistant.cli import main
from assistant.users import Users, hash_password

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.toml"
    path.write_text(
        f"""
[users.vera]
role = "viewer"
password_hash = "{hash_password("viewer pw")}"

[users.ed]
role = "editor"
password_hash = "{hash_password("editor pw")}"
""",
        encoding="utf-8",
    )
    return path


def test_users_file_checks_passwords_against_argon2_hashes(users_file: Path) -> None:
    text = users_file.read_text()
    assert "viewer pw" not in text and "$argon2id$" in text
    users = Users.from_file(users_file)
    assert users.check("vera", "viewer pw") and users.check("ed", "editor pw")
    assert not users.check("vera", "editor pw") and not users.check("nobody", "viewer pw")
    assert (users.role("vera"), users.role("ed"), users.role("nobody")) == (
        "viewer",
        "editor",
        None,
    )
    single = Users.single_editor("alice", "s3cret:pw")
    assert single.check("alice", "s3cret:pw") and single.role("alice") == "editor"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[users.bob]\nrole = "viewer"\npassword = "hunter2"', "plain-text passwords are refused"),
        ('[users.bob]\nrole = "admin"\npassword_hash = "$argon2id$x"', "role must be one of"),
        ('[users.bob]\nrole = "viewer"\npassword_hash = "md5:abc"', "must be an argon2 hash"),
        ("[users]\n", "lists no users"),
        ("users = [", "is not valid TOML"),
        ('[people.bob]\nrole = "viewer"', "needs a [users.NAME] table"),
    ],
)
def test_bad_users_files_name_the_file_user_and_fix(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "users.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AssistantError, match=message.replace("[", r"\[")) as info:
        Users.from_file(path)
    assert str(path) in str(info.value)


def test_hash_password_command_prints_an_entry_for_the_users_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["hash-password", "nina", "--role", "editor"], input="pw 1\npw 1\n"
    )
    assert result.exit_code == 0, result.output
    entry = result.stdout[result.stdout.index("[users.") :]
    assert "pw 1" not in entry
    path = tmp_path / "users.toml"
    path.write_text(entry, encoding="utf-8")
    assert tomllib.loads(entry)["users"]["nina"]["role"] == "editor"
    users = Users.from_file(path)
    assert users.check("nina", "pw 1") and users.role("nina") == "editor"


def test_login_users_from_auth_or_file(users_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_USERS", str(users_file))
    assert Settings().users == users_file  # what `python ui.py` and `assistant ui` read
    assert ui.login_users(None, None) is None
    assert ui.login_users("al:pw", None).role("al") == "editor"
    assert ui.login_users(None, users_file).role("vera") == "viewer"
    with pytest.raises(AssistantError, match="not both"):
        ui.login_users("al:pw", users_file)


def test_viewer_chats_but_cannot_change_the_index_through_the_api(
    passages_assistant: Assistant,
    users_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    bridge = tmp_path / "vilnius-bridge.txt"
    bridge.write_text(BRIDGE_TEXT, encoding="utf-8")
    before = passages_assistant.stats()["articles"]
    victim = passages_assistant.articles()[0].id
    users = Users.from_file(users_file)
    with serving(ui.build_app(passages_assistant, users), auth=users.check) as url:
        with pytest.raises(Exception):  # noqa: B017 (no login, no client)
            Client(url, verbose=False)
        viewer = Client(url, auth=("vera", "viewer pw"), verbose=False)
        answer, _ = answer_and_sources(ask(viewer, DRONES_Q)[-1])
        assert "30" in answer
        with caplog.at_level(logging.WARNING, logger="assistant.ui"):
            with pytest.raises(AppError, match="may not change the index"):
                viewer.predict([handle_file(str(bridge))], api_name="/add_files")
            with pytest.raises(AppError, match="may not change the index"):
                viewer.predict(victim, api_name="/remove_article")
            with pytest.raises(AppError, match="may not change the index"):
                viewer.predict("https://example.org/feed.xml", api_name="/add_urls")
        refused = [r.getMessage() for r in caplog.records if r.name == "assistant.ui"]
        assert refused == [
            "refused add_files: user 'vera' has role viewer, not editor",
            "refused remove_article: user 'vera' has role viewer, not editor",
            "refused add_urls: user 'vera' has role viewer, not editor",
        ]
        assert passages_assistant.stats()["articles"] == before

        editor = Client(url, auth=("ed", "editor pw"), verbose=False)
        report = editor.predict([handle_file(str(bridge))], api_name="/add_files")[0]
        assert "Added" in report and passages_assistant.stats()["articles"] == before + 1
        new_id = next(r.id for r in passages_assistant.articles() if r.title == BRIDGE_TITLE)
        assert "Removed" in editor.predict(new_id, api_name="/remove_article")[0]
        assert passages_assistant.stats()["articles"] == before
