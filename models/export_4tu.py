"""Writes models/4tu-setups.json and models/4tu-rejects.json: rule packs mined from the real 4TU machine-shop log.

Run: .venv/bin/python models/export_4tu.py   (part of `make models`)

The setups pack mines setup minutes (one row per setup, with its changeover pair: ``lean.tables.setup_table``);
the rejects pack mines which production reports carry rejects and where more units are rejected
(``lean.tables.production_table``). Both with the miner's default settings except ``max_levels=200`` (the log has
up to 197 changeover pairs) — the packs are what ``leanlearn mine`` finds, nothing is picked by hand.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    from leanlearn.data.datasets import load_production_4tu
    from leanlearn.lean.tables import production_table, setup_table
    from leanlearn.mining.settings import MiningSettings
    from leanlearn.packs.build import mine_pack

    events = load_production_4tu(events=True)
    settings = MiningSettings(max_levels=200)
    packs = {
        "4tu-setups": mine_pack(
            setup_table(events), ["setup_min"], ignore=["order_id"], name="4tu-setups", line="4tu", waste="setup",
            worse={"setup_min": "higher"}, settings=settings,
            description="Setup durations in the 4TU machine-shop log (2012), from the timestamps.",
        ),
        "4tu-rejects": mine_pack(
            production_table(events), ["rejected", "qty_rejected"], name="4tu-rejects",
            ignore=["order_id", "qty_completed", "reject_rate"],  # outcomes of the report, not its context
            line="4tu", waste="defects", worse={"qty_rejected": "higher"}, settings=settings,
            description="Rejects in the 4TU machine-shop log (2012): which reports carry rejects (binary) and where "
                        "more units are rejected (numeric). Built from leanlearn.lean.tables.production_table.",
        ),
    }
    for name, pack in packs.items():
        path = pack.save(HERE / f"{name}.json")
        print(f"{path.relative_to(HERE.parent)}: {len(pack.rules)} rules")
        for rule in pack.rules:
            print(f"  {rule.text}  (n={rule.n}, p={rule.p_value:.2g})")


if __name__ == "__main__":
    main()
