"""Writes models/ai4i.<target>.json: the demo's AI4I pack as `leanlearn pack export` hands it to another line.

Run: .venv/bin/python models/export_demo.py

Mines the shipped AI4I pipeline (what `make demo` runs), registers it in a throw-away MLflow store (one version per
failure mode), and exports each version with its review record and lineage — the files a line manager imports with
`leanlearn pack import models/ai4i.HDF.json --line <line> [--mapping MAP.yaml]`. Nobody has reviewed these rules:
their review records say "pending", and the lineage says where they came from.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leanlearn-export-") as home:
        os.environ["LEANLEARN_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        from leanlearn.packs.exchange import export_pack
        from leanlearn.packs.registry import register_pack
        from leanlearn.pipeline import load_pipeline, run_pipeline, shipped_pipeline

        pack = run_pipeline(load_pipeline(shipped_pipeline("ai4i")))
        for item in register_pack(pack):
            exported = export_pack(item.version_uri)
            path = exported.save(HERE / f"ai4i.{item.target}.json")
            print(f"{path.relative_to(HERE.parent)}: {len(exported.rules)} rules, exported from {item.version_uri}")


if __name__ == "__main__":
    main()
