"""The README's Python examples run as written."""

from __future__ import annotations

import re

import pytest

from mlbt import load_strategy
from tests.conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_there_are_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{k}" for k in range(len(BLOCKS))])
def test_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example may write files (result.to_parquet("run/"))
    (tmp_path / "strategies").symlink_to(ROOT / "strategies")  # and load a shipped plugin, as from the repository
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    if "class " in code and "Strategy" in code:  # a plugin: it loads as one, as bt would load it
        path = tmp_path / "plugin.py"
        path.write_text(code)
        assert load_strategy(path).name
    if "result" in namespace:
        assert namespace["result"].stats["trades"] > 0
