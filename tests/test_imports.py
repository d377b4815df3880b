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



def _mine_in_a_subprocess(tmp_path, *options: str) -> set[str]:
    data = tmp_path / "runs.csv"
    rows = ["humidity,press,scrap,setup_min"] + [
        f"{30 + (i * 7) % 60},{'P3' if i % 3 == 0 else 'P1'},{int(i % 3 == 0 and (i * 7) % 60 >= 35)},{10 + i % 17}"
        for i in range(600)
    ]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "pack.json"
    loaded = _modules_after(
        "from leanlearn.cli import app\n"
        f"app(['mine', {str(data)!r}, {', '.join(map(repr, options))}, '--out', {str(out)!r}, '--quiet'], "
        "standalone_mode=False)"
    )
    assert out.is_file()
    return {m.split(".")[0] for m in loaded}


def test_leanlearn_mine_loads_neither_scikit_learn_nor_scipy(tmp_path):
    """The command line mines with the scikit-learn-free miner cores (mining/miner.py's RuleMinerCore): importing
    sklearn.base (it loads SciPy) costs more than mining a million rows."""
    loaded = _mine_in_a_subprocess(tmp_path, "--target", "scrap")
    assert not {"sklearn", "scipy"} & loaded


def test_leanlearn_mine_of_a_numeric_target_loads_neither_scikit_learn_nor_scipy(tmp_path):
    """ShiftMinerCore too: its Mann-Whitney test is computed without SciPy."""
    loaded = _mine_in_a_subprocess(tmp_path, "-t", "setup_min", "--worse", "setup_min=higher", "--ignore", "scrap")
    assert not {"sklearn", "scipy"} & loaded
