"""`import leanlearn` and the CLI's --help stay light: heavy libraries load only in their own wing."""

import subprocess
import sys

HEAVY = ("mlflow", "shap", "lightgbm", "river", "streamlit", "statsmodels", "cryptography")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def test_import_leanlearn_loads_no_heavy_library():
    loaded = _modules_after("import leanlearn")
    assert not [m for m in HEAVY if m in loaded]


def test_using_the_miner_loads_no_heavy_library():
    loaded = _modules_after("import leanlearn as ll\nX, y = ll.load_ai4i(target='PWF')\nll.RuleMiner().fit(X, y)")
    assert not [m for m in HEAVY if m in loaded]


def test_the_pack_modules_and_the_cli_load_no_heavy_library():
    """Transfer validation loads statsmodels, signatures cryptography, the registry MLflow — only when they run."""
    loaded = _modules_after("import leanlearn.cli, leanlearn.packs.mapping, leanlearn.packs.transfer, "
                            "leanlearn.packs.signing, leanlearn.packs.exchange, leanlearn.packs.gate, "
                            "leanlearn.packs.transfer_report")
    assert not [m for m in (*HEAVY, "matplotlib") if m in loaded]
