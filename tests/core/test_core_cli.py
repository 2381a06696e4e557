from peertrial.cli import main


def test_cli_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "peertrial" in capsys.readouterr().out
