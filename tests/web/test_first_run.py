"""The first run is quiet: `junkan serve` says where to open the app, or in one line why not."""

import socket

from click.testing import CliRunner

from web.cli import main


def test_serve_on_a_taken_port_says_so_in_one_line_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("LOG_JSON", "0")
    monkeypatch.setenv("SCHEDULER_IN_PROCESS", "1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: port {port} is taken by another program: stop it, or choose another port"
        f" (junkan serve --port {port + 1}; scripts/demo.sh reads PORT={port + 1})"
    )
    assert "Traceback" not in result.output and "scheduler" not in result.output
