"""The built wheel, installed into a fresh virtualenv and used from a folder outside the checkout.

The venv reuses the already-installed dependencies through a `.pth` line that puts the running
interpreter's site-packages on its path (a plain path line: that folder's own `.pth` files, such
as an editable install of this checkout, are not run), so only the wheel itself is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from assistant.settings import PROJECT_DIR

# The files the build reads; copied aside so building leaves no build/ or egg-info in the tree.
SOURCES = ("pyproject.toml", "README.md", "assistant", "prompts", "data/sample/articles")
DRONES_Q = "How many of the drones launched at Kyiv on December 19 were destroyed?"


def run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the venv's bin folder, an environment for it) with the freshly built wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:
        source, target = PROJECT_DIR / name, src / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src])
    noise = [line for line in (built.stdout + built.stderr).splitlines() if "arning" in line]
    noise = [line for line in noise if "Location 'file:" not in line]  # this machine's pip.conf
    assert not noise, "the build is not quiet:\n" + "\n".join(noise)
    (wheel,) = (tmp / "dist").glob("news_assistant-*.whl")

    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / "bin"
    target = run(
        [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    shared = sysconfig.get_paths()["purelib"]
    Path(target, "shared-deps.pth").write_text(shared + "\n", encoding="utf-8")
    run([*pip, "--python", bin_dir / "python", "install", "--no-deps", "--no-index", wheel])

    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ASSISTANT_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), HF_HUB_OFFLINE="1")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return bin_dir, env


def test_installed_wheel_answers_from_any_folder(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    where = run(
        [bin_dir / "python", "-c", "import assistant; print(assistant.__file__)"],
        cwd=tmp_path,
        env=env,
    ).stdout
    assert str(bin_dir.parent) in where, f"assistant imported from {where}, not the wheel"

    # First use: the default index is built from the bundled samples in the user's data folder.
    first = run(
        [bin_dir / "assistant", "ask", "--backend", "passages", DRONES_Q], cwd=tmp_path, env=env
    )
    print(first.stdout, first.stderr[-2000:], sep="\n")
    assert "indexing the bundled sample articles" in first.stderr
    assert "[1]" in first.stdout and "Drones Target Kyiv Energy Sites" in first.stdout
    index_dir = Path(env["XDG_DATA_HOME"]) / "news-assistant" / "index"
    assert (index_dir / "CURRENT").is_file()
    assert not list(tmp_path.iterdir()), "the command wrote into the current folder"

    article = tmp_path / "bridge.txt"
    article.write_text(
        "Vilnius Bridge Reopens After Repairs\n\nThe Green Bridge in Vilnius reopened on "
        "3 December after repairs costing 4.2 million euros, the city council said.\n",
        encoding="utf-8",
    )
    added = run([bin_dir / "assistant", "index", "add", article], cwd=tmp_path, env=env)
    assert "1 added" in added.stdout

    # The Python API and the UI import from the wheel (answering was shown above).
    code = "from assistant import answer, Assistant\nfrom assistant.ui import build_app, launch"
    run([bin_dir / "python", "-c", code], cwd=tmp_path, env=env)
    assert "--port" in run([bin_dir / "assistant", "ui", "--help"], cwd=tmp_path, env=env).stdout
