"""``leanlearn pack ...``: rule packs across production lines — list, export, import, validate, promote, sign.

One Typer group; each module registers its commands on :data:`app` (``exchange``: list, export, import, promote;
``validate``: validate; ``sign``: keygen, sign, verify). Shared output helpers come from :mod:`leanlearn.cli`.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from leanlearn._util import help_text

app = typer.Typer(
    name="pack",
    help=(
        "Rule packs across production lines: list what is registered, export a version with its review record and "
        "lineage, import it for another line through a mapping, validate it on that line's data, promote it through "
        "the gate, sign it.\n\n"
        "\b\n"
        "  leanlearn pack list --line L2\n"
        "  leanlearn pack export models:/leanlearn.L1.defect@approved --out L1-defect.json\n"
        "  leanlearn pack import L1-defect.json --line L2 --mapping l1-to-l2.yaml --register\n"
        "  leanlearn pack validate L1-defect.L2.json l2-runs.csv --out report.html\n"
        "  leanlearn pack promote leanlearn.L2.defect 3 --alias production"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def command(func: Callable[..., None]) -> Callable[..., None]:
    """Register ``func`` on the group, its docstring reflowed as :mod:`leanlearn.cli` does for its commands."""
    text = help_text(func.__doc__)
    name = func.__name__.rstrip("_").replace("_", "-")
    return app.command(name=name, help=text)(func)


from leanlearn.cli_pack import exchange, sign, validate  # noqa: E402,F401  (each registers its commands)
