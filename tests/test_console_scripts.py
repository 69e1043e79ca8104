"""Every console script of setup.py runs its tool in the MXNet environment (``--help`` exits 0 under the command's
name); the PyTorch tools say what to install (exit 2) instead of failing to import torch."""
import importlib.util

import pytest

from console_entries import call_entry, console_scripts, engine_of

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("command", sorted(console_scripts()))
def test_console_script_help(command, monkeypatch, capsys):
    module, _ = console_scripts()[command]
    status = call_entry(command, ["--help"], monkeypatch)
    out, err = capsys.readouterr()
    if engine_of(module) == "torch" and not HAS_TORCH:
        assert status == 2 and f"{command}: error: needs torch" in err and "pip install 'afflib[torch]'" in err
    else:
        assert status == 0, err
        assert out.startswith(f"usage: {command} ")
