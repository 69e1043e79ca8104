"""Every console script of setup.py in the PyTorch environment: the PyTorch tools and the framework-free
``afflib-download-params`` run (``--help`` exits 0 under the command's name); the MXNet tools say what to install
(exit 2) instead of failing to import mxnet."""
import importlib.util

import pytest

from console_entries import call_entry, console_scripts, engine_of

HAS_MXNET = importlib.util.find_spec("mxnet") is not None
FRAMEWORK_FREE = {"afflib-download-params"}


DISPATCHER = "afflib.core.engines"   # tools with --engine: without it they would re-run under .venv (exec)


@pytest.mark.parametrize("command", sorted(console_scripts()))
def test_console_script_help(command, monkeypatch, capsys):
    module, _ = console_scripts()[command]
    if module == DISPATCHER:   # --engine torch: this environment's engine, run in this process
        status = call_entry(command, ["--engine", "torch", "--help"], monkeypatch)
        out, err = capsys.readouterr()
        assert status == 0, err
        assert out.startswith("usage: ") and "--engine" in out
        return
    status = call_entry(command, ["--help"], monkeypatch)
    out, err = capsys.readouterr()
    if engine_of(module) == "mxnet" and command not in FRAMEWORK_FREE and not HAS_MXNET:
        assert status == 2 and f"{command}: error: needs mxnet" in err and "pip install 'afflib[mxnet]'" in err
    else:
        assert status == 0, err
        assert out.startswith(f"usage: {command} ")
