"""benchmarks/inference.py's Keras baseline glue: the rows of benchmarks/keras_loop.py
(here a stand-in interpreter that prints them) land beside bt's and give the ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--bars", "400", "--networks", "etf50", "--profiles", "fast", "--train-windows", "0", "--repeat", "1",
        "--budget", "0.3", "--loop-windows", "20", "--threads", "1", "--device", "cpu", "--json"]


def fake_python(tmp_path: Path, body: str) -> str:
    path = tmp_path / "python"
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(0o755)
    return str(path)


def bench(*extra: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "inference.py"), *ARGS, *extra],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_keras_rows_join_the_table_with_their_ratio(tmp_path):
    row = {"network": "etf50", "profile": "fast", "features": 7, "window": 5, "params": 3496, "n": 20,
           "seconds": 1.0, "rate": 20.0, "method": "model.predict", "calls_per_window": 1}
    keras = fake_python(tmp_path, "assert '--networks' in sys.argv and 'etf50' in sys.argv\n"
                        f"print({json.dumps({'tensorflow': 'x', 'keras': 'y', 'threads': 1, 'rows': [row]})!r})")
    out = bench("--keras-python", keras)
    (r,) = out["rows"]
    assert r["keras"]["rate"] == 20.0 and r["keras_ratio"] == r["batched"]["rate"] / 20.0
    assert any("Keras predict loop" in v for v in out["verdicts"]) and out["meta"]["keras"]["keras"] == "y"


def test_a_failing_or_garbled_keras_interpreter_is_a_note_not_a_crash(tmp_path):
    for body in ("sys.exit('no tensorflow here')", "print('I0000 oneDNN custom operations are on')"):
        out = bench("--keras-python", fake_python(tmp_path, body))
        assert out["rows"][0]["keras"] is None
        assert any(n.startswith("Keras loop not measured") for n in out["notes"]), out["notes"]


def keras_sizes() -> dict:
    """SIZES of benchmarks/keras_loop.py, read without importing it (it needs TensorFlow)."""
    import ast

    tree = ast.parse((ROOT / "benchmarks" / "keras_loop.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "SIZES":
            return ast.literal_eval(node.value)
    raise AssertionError("no SIZES in benchmarks/keras_loop.py")


def test_keras_mirrors_have_the_torch_networks_lstm_sizes():
    import torch

    from mlbt.data import MODEL_COLUMNS
    from mlbt.models import ModelConfig, build_model

    layers = {"etf50": 2, "price": 2, "sltp": 1}  # networks sized by one "hidden" width
    features = {"attention_ensemble": "attention"}
    for network, profiles in keras_sizes().items():
        for profile, size in profiles.items():
            if "members" in size:
                want = [u for member in size["members"] for u in member["lstm"]]
            elif "lstm" in size:
                want = list(size["lstm"])
            else:
                want = [size["hidden"]] * layers[network]
            n = len(MODEL_COLUMNS[features.get(network, network)])
            model = build_model(ModelConfig(network, n_features=n, profile=profile))
            got = [m.hidden_size for m in model.modules() if isinstance(m, torch.nn.LSTM)]
            assert got == want, (network, profile)
