"""The `genomlysning` command's parser."""

from __future__ import annotations

import pytest

from genomlysning import cli


@pytest.mark.parametrize("command", ["template", "validate", "clean", "prepare", "demo-data", "run"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: genomlysning" in capsys.readouterr().out


def test_unknown_subcommand_fails() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["finns-inte"])
    assert exc.value.code == 2


def test_subcommands_dispatch_to_existing_functions() -> None:
    import importlib

    parser = cli.build_parser()
    argv = {"template": ["x.xlsx"], "validate": ["x.csv"], "clean": ["--kommun", "k"],
            "prepare": [], "demo-data": [], "run": []}
    for command, rest in argv.items():
        args = parser.parse_args([command, *rest])
        module = importlib.import_module(args._module)
        assert callable(getattr(module, args._func)), (command, args._module, args._func)
