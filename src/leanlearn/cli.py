"""The ``leanlearn`` command line: thin — it parses, calls the library, and prints.

Every mistake a user can fix (a :class:`~leanlearn.errors.LeanlearnError`, or a missing / unreadable file) is printed
as one line ``error: <message>`` on stderr with exit code 2; anything else is a bug and keeps its traceback.

Heavy libraries (pandas, MLflow, ...) are imported inside the commands, so ``leanlearn --help`` stays fast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leanlearn import __version__
from leanlearn._util import help_text
from leanlearn.errors import DataError, ExpressionError, LeanlearnError, PackError, SchemaError

if TYPE_CHECKING:
    from rich.console import Console

    from leanlearn.mining.miner import RuleMinerCore
    from leanlearn.mining.rules import Rule
    from leanlearn.packs.pack import RulePack
    from leanlearn.pipeline import MiningPipeline

app = typer.Typer(
    name="leanlearn",
    help=(
        "Turn production data into verified, explained, versioned rules about waste.\n\n"
        "Mine rules from a table (CSV, Parquet, JSONL), read them in plain words with their evidence, apply a rule "
        "pack to new data, and register packs in MLflow for review. Start with [bold]leanlearn demo[/bold].\n\n"
        "\b\n"
        "  leanlearn demo\n"
        "  leanlearn mine runs.csv --target scrap --out models/scrap.json\n"
        "  leanlearn show models/scrap.json\n"
        "  leanlearn apply models/scrap.json today.csv --out fired.csv\n"
        "  leanlearn run pipelines/ai4i.yaml"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".parquet", ".pq", ".jsonl", ".ndjson"}


# -- output helpers -------------------------------------------------------------------------------------------------
def _console(stderr: bool = False) -> Console:
    """A rich console; when the output is not a terminal, wide enough that tables of rules do not wrap much."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=160)
    return console


def _say(console: Console, text: str, style: str | None = None) -> None:
    """Print plain text (no markup: column names like ``[K]`` stay as written); unbroken when not a terminal."""
    from rich.text import Text

    console.print(Text(text, style=style or ""), soft_wrap=not console.is_terminal)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(2)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn user mistakes into one ``error:`` line on stderr and exit code 2; let bugs keep their traceback."""
    try:
        yield
    except LeanlearnError as exc:
        raise _fail(_printable(str(exc), keep_space=True)) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
        raise _fail(_printable(text, keep_space=True)) from None


@contextmanager
def _about(path: Path, *also: type[LeanlearnError]) -> Iterator[None]:
    """Prefix data-related errors with the file they concern (``runs.csv: target 'x' is not a column ...``)."""
    caught: tuple[type[LeanlearnError], ...] = (DataError, SchemaError, ExpressionError, *also)
    try:
        yield
    except caught as exc:
        if str(exc).startswith(str(path)):
            raise
        raise type(exc)(f"{path}: {exc}") from None


def _emit_json(pack: RulePack) -> None:
    """The pack JSON, alone, on stdout (registry chatter goes to stderr: see ``leanlearn.packs.registry``)."""
    typer.echo(pack.dumps(), nl=False)


_CONTROL = r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"


def _printable(text: Any, keep_space: bool = False) -> str:
    """``text`` safe for a terminal: every control character (the ESC that starts ANSI/OSC sequences, BEL,
    backspace, carriage return, C1 codes, bidi overrides, zero-width marks) is shown as an escape such as ``\\x1b``,
    so text from a pack or a data file cannot move the cursor, recolour, retitle or rewrite the terminal.
    ``keep_space`` keeps newlines and tabs (error messages fold them into spaces anyway).
    """
    import re

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if keep_space and char in "\n\t":
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return re.sub(_CONTROL, escape, str(text))


class _Progress:
    """One progress step per mined target (on stderr), plus what each miner saw, for the report."""

    def __init__(self, targets: Sequence[str], enabled: bool) -> None:
        self.targets = list(targets)
        self.stats: dict[str, dict[str, Any]] = {}
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    @contextmanager
    def running(self) -> Iterator[_Progress]:
        if not self.enabled:
            yield self
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=_console(stderr=True), transient=True) as progress:
            self._progress = progress
            self._task = progress.add_task(f"mining {self.targets[0]}", total=len(self.targets))
            yield self
        self._progress = None

    def reading(self, what: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=f"reading {what}")

    def mining(self) -> None:
        if self._progress is not None and self.targets:
            self._progress.update(self._task, description=f"mining {self.targets[0]}")

    def on_target(self, target: str, miner: RuleMinerCore, seconds: float) -> None:
        rows = int(miner.n_rows_)
        self.stats[target] = {
            "rows": rows,
            "positives": round(miner.base_rate_ * rows),
            "base_rate": float(miner.base_rate_),
            "n_tests": int(miner.n_tests_),
            "seconds": seconds,
        }
        if self._progress is not None:
            done = self.targets.index(target) + 1 if target in self.targets else len(self.stats)
            following = self.targets[done] if done < len(self.targets) else None
            self._progress.update(self._task, advance=1, description=f"mining {following}" if following else "done")


def _progress_enabled(quiet: bool) -> bool:
    return not quiet and _console(stderr=True).is_terminal


# -- rule reports ---------------------------------------------------------------------------------------------------
def _p_text(p: float) -> str:
    return "< 1e-300" if p < 1e-300 else f"{p:.2g}"


def _rules_table(rules: Sequence[Rule]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("rule", ratio=1)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("confidence (95 % CI)", justify="right", no_wrap=True)
    table.add_column("lift", justify="right", no_wrap=True)
    table.add_column("adj. p", justify="right", no_wrap=True)
    for rule in rules:
        table.add_row(
            Text(_printable(rule.id)),
            Text(_printable(rule.text)),
            f"{rule.n:,}",
            f"{rule.confidence:.0%} ({rule.ci[0]:.0%}–{rule.ci[1]:.0%})",
            f"{rule.lift:.1f}×",
            _p_text(rule.p_value),
        )
    return table


def _no_rule_reason(target: str, stats: dict[str, Any] | None, mining: dict[str, Any]) -> str:
    """Why a target got no rule — and why that is an honest answer rather than a failure."""
    n_tests = (mining.get("n_tests") or {}).get(target)
    if stats is None:
        tested = f" after {n_tests:,} candidates were tested" if isinstance(n_tests, int) else ""
        return (
            f"No rule for {target}: no condition made it significantly more frequent than overall{tested}. "
            "That is an honest answer: leanlearn reports no rule rather than a weak one."
        )
    rows, positives = stats["rows"], stats["positives"]
    if positives == 0:
        return f"No rule for {target}: it never occurs in these {rows:,} rows, so there is nothing to explain."
    if positives == rows:
        return f"No rule for {target}: it occurs in every one of the {rows:,} rows, so no condition can raise it."
    min_hits = int(mining.get("min_hits") or 5)
    if positives < min_hits:
        return (
            f"No rule for {target}: only {positives} of {rows:,} rows have it — fewer than min_hits = {min_hits}, "
            "too few for any claim. Collect more data before mining this outcome."
        )
    alpha = mining.get("alpha", 0.05)
    return (
        f"No rule for {target}: after testing {stats['n_tests']:,} candidate conditions, none made {target} "
        f"significantly more frequent than its overall {stats['base_rate']:.1%} ({positives:,} of {rows:,} rows; "
        f"adjusted p ≤ {alpha}). That is an honest answer: in these columns {target} looks unrelated to the recorded "
        "parameters (or the effect is too small to tell from chance), and leanlearn reports no rule rather than a "
        "weak one."
    )


def _report_rules(
    console: Console, pack: RulePack, stats: dict[str, dict[str, Any]] | None = None, table: bool = True,
    limit: int | None = None,
) -> None:
    """Per target: a heading with its base rate, the rules table, and each rule in plain words.

    ``limit``: at most this many rules per target (the rest counted); text from the pack is escaped for a terminal.
    """
    from rich.text import Text

    for target in pack.targets:
        every = pack.rules.for_target(target.name)
        total = len(every)
        rules = list(every if limit is None else every[:limit])
        info = (stats or {}).get(target.name)
        heading = f"{_printable(target.name)} · {_printable(target.waste)}"
        if info is not None:
            heading += f" · base rate {info['base_rate']:.1%} ({info['positives']:,} of {info['rows']:,} rows)"
        elif rules:
            heading += f" · base rate {rules[0].base_rate:.1%}"
        heading += f" · {total} rule{'s' if total != 1 else ''}"
        console.print()
        console.rule(Text(heading, style="bold"), align="left")
        if not total:
            _say(console, _printable(_no_rule_reason(target.name, info, pack.mining)), style="yellow")
            continue
        if table:
            console.print(_rules_table(rules))
        for rule in rules:
            _say(console, _printable(f"  {rule.id}: {rule.describe()}"))
        if total > len(rules):
            _say(console, f"  … {total - len(rules):,} more rule(s) for {_printable(target.name)}; "
                          "show them with --limit 0 (all) or a larger --limit", "dim")


def _print_saved(console: Console, pack: RulePack, path: Path) -> None:
    _say(console, f"wrote rule pack {pack.name!r} to {path} ({len(pack.rules)} rules, {pack.content_hash[:19]}…)")


def _register(pack: RulePack, console: Console | None, progress: bool) -> list[Any]:
    """Register ``pack`` in the MLflow registry and say where it is (nothing printed when ``console`` is None).

    Returns the registered versions (``RegisteredPack``), one per target.
    """
    from leanlearn.packs.registry import default_tracking_uri, register_pack

    if progress:
        with _console(stderr=True).status("registering the pack in MLflow"):
            registered = register_pack(pack)
    else:
        registered = register_pack(pack)
    if console is None:
        return registered
    store = _redact(default_tracking_uri())
    console.print()
    _say(console, f"registered in the MLflow model registry at {store}:", "bold")
    for item in registered:
        _say(console, _printable(f"  {item.target}: {item.uri}  ({item.version_uri})"))
    _say(console, "open the MLflow UI to review them:")
    _say(console, f"  mlflow ui --backend-store-uri {store}")
    return registered


def _redact(uri: str) -> str:
    """``uri`` without its password, in any form (``user:pw@host``, ``?password=pw``, ``user:p@ss@host``)."""
    from leanlearn._util import redact

    return redact(uri)


def _line_from(path: Path) -> str:
    while path.suffix.lower() in _TABLE_SUFFIXES:
        path = path.with_suffix("")
    return path.name or "line"


# -- commands -------------------------------------------------------------------------------------------------------
def _command(func: Callable[..., None]) -> Callable[..., None]:
    """Register ``func`` as a command, its docstring reflowed: paragraphs joined into lines, ``\\b`` blocks kept."""
    return app.command(help=help_text(func.__doc__))(func)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"leanlearn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """Turn production data into verified, explained, versioned rules about waste."""


@_command
def mine(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Table to mine: CSV (, ; tab |), Parquet, JSONL.")],
    target: Annotated[
        list[str],
        typer.Option("--target", "-t", metavar="COL", help="Binary waste outcome column (0/1); repeat for more."),
    ],
    derive: Annotated[
        list[str] | None,
        typer.Option("--derive", "-d", metavar="NAME=EXPR", help="Derived feature, e.g. 'power=torque * rpm'."),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", "-i", metavar="COL", help="Column to leave out; repeatable.")
    ] = None,
    min_support: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, metavar="F", help="Smallest share of all rows a rule's hits make up."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, metavar="F", help="Smallest share of covered rows with the outcome."),
    ] = None,
    max_conditions: Annotated[
        int | None,
        typer.Option(min=1, metavar="K", help="Most conditions in one rule (default 4; an interval counts as one)."),
    ] = None,
    min_rows: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Fewest rows a rule covers (default 20 for a --worse target, 5 for "
                                              "a binary one); the correction counts every condition set on that "
                                              "many rows."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Itemset engine: auto (= bitset), bitset, mlxtend (the reference), spark "
                                          "(needs leanlearn\\[spark] and Java 17; same rules)."),
    ] = None,
    line: Annotated[
        str | None, typer.Option(metavar="NAME", help="Production line the data comes from (default: file name).")
    ] = None,
    waste: Annotated[
        str, typer.Option(metavar="W", help="Lean waste tag: defects, downtime, waiting, setup, ...")
    ] = "defects",
    encoding: Annotated[
        str | None, typer.Option(metavar="ENC", help="Text encoding of a CSV/JSONL file that is not UTF-8.")
    ] = None,
    out: Annotated[Path | None, typer.Option(metavar="PACK.json", help="Write the rule pack to this file.")] = None,
    register: Annotated[bool, typer.Option("--register", help="Register the pack in the MLflow registry.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the pack JSON (for scripts).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    worse: Annotated[
        list[str] | None,
        typer.Option("--worse", metavar="COL=higher|lower",
                     help="Declare a --target numeric (minutes, counts) and which direction is waste; repeatable."),
    ] = None,
) -> None:
    """Mine rules linking process parameters to waste outcomes.

    Reads DATA (one row per unit or operation), finds for each --target the combinations of conditions under which
    the outcome is significantly more frequent, and prints each rule with its evidence: rows covered, confidence
    with its 95 % interval, lift, and a p-value adjusted for every candidate tested. Identifier columns are left
    out automatically; --ignore other outcome flags that would leak. Column names with spaces go in backticks in
    --derive. With --json only the pack JSON is printed; --out writes it; --register stores it in MLflow
    ($MLFLOW_TRACKING_URI or leanlearn's local store).

    \b
    [bold]Examples[/bold]
      leanlearn mine runs.csv --target scrap --derive 'power=torque * rpm' --out models/scrap.json
      leanlearn mine ai4i.csv -t HDF --derive 'temp_diff=`Process temperature \\[K]` - `Air temperature \\[K]`'
      leanlearn mine runs.parquet -t scrap -t rework --max-conditions 2 --json | jq '.rules[].text'
      leanlearn mine setups.csv -t setup_min --worse setup_min=higher --ignore order_id
      leanlearn mine plant.parquet -t scrap --min-support 0.01 --engine spark
    """
    with _user_errors():
        from leanlearn.data.sources import read_table
        from leanlearn.mining.expressions import parse_derive_options
        from leanlearn.mining.settings import MiningSettings
        from leanlearn.packs.build import mine_pack

        derived = parse_derive_options(derive)
        directions = _parse_worse(worse)
        settings = MiningSettings().replace(**{
            k: v
            for k, v in {"min_support": min_support, "min_confidence": min_confidence,
                         "max_conditions": max_conditions, "min_rows": min_rows, "engine": engine}.items()
            if v is not None
        })
        progress = _Progress(target, _progress_enabled(quiet))
        started = time.perf_counter()
        with progress.running():
            progress.reading(str(data))
            frame = read_table(data, encoding=encoding)
            progress.mining()
            with _about(data):
                pack = mine_pack(
                    frame, target, derive=derived, ignore=ignore or [], line=line or _line_from(data), waste=waste,
                    source=str(data), on_target=progress.on_target, worse=directions, settings=settings,
                )
        elapsed = time.perf_counter() - started
        if out is not None:
            pack.save(out)
        if _emitted_json(pack, json_out, register, progress.enabled):
            return
        console = _console()
        _say(console, f"{data}: {len(frame):,} rows × {frame.shape[1]} columns", "dim")
        _report_rules(console, pack, progress.stats)
        console.print()
        _say(console, f"mined {len(pack.rules)} rule(s) for {len(pack.targets)} target(s) in {elapsed:.1f} s")
        if out is not None:
            _print_saved(console, pack, out)
        if register:
            registered = _register(pack, console, progress.enabled)
            _explain_and_log(console, pack, frame, registered, progress.enabled)


def _emitted_json(pack: Any, json_out: bool, register: bool, progress_enabled: bool) -> bool:
    """With --json: register quietly if asked, print only the pack JSON, and say so."""
    if not json_out:
        return False
    if register:
        _register(pack, None, progress_enabled)
    _emit_json(pack)
    return True


def _parse_worse(options: list[str] | None) -> dict[str, str]:
    from leanlearn.errors import DataError

    out: dict[str, str] = {}
    for option in options or []:
        column, sep, direction = option.rpartition("=")
        if not sep or not column or direction.strip() not in ("higher", "lower"):
            raise DataError(f"--worse {option!r}: write COL=higher or COL=lower, e.g. --worse setup_min=higher")
        out[column.strip()] = direction.strip()
    return out


def _review_table(pack: RulePack, records: dict[str, Any] | None = None) -> Any:
    """Each rule's review record: decision, who, when, why (``records``: by rule id, else the pack's own)."""
    from rich.table import Table
    from rich.text import Text

    styles = {"approved": "green", "rejected": "red", "pending": "yellow"}
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("id", "review", "by", "at", "reason / comment"):
        table.add_column(column, ratio=1 if column.startswith("reason") else None, no_wrap=column != "reason / comment")
    for rule in pack.rules:
        review = (records or {}).get(str(rule.id), rule.review)
        table.add_row(Text(_printable(rule.id)), Text(review.status, style=styles.get(review.status, "")),
                      Text(_printable(review.by or "")), Text(_printable(review.at or "")),
                      Text(_printable(review.comment or "")))
    return table


def _registry_reviews(uri: str) -> dict[str, Any]:
    """Each rule's review record of the registered version behind ``uri`` (its tags), as pack ``Review`` objects."""
    from leanlearn.mining.rules import Review
    from leanlearn.packs.registry import review_state

    out: dict[str, Any] = {}
    for record in review_state(uri).rules:
        note = "; ".join(t for t in (record.reason, f"comment: {record.comment}" if record.comment else "") if t)
        out[record.rule_id] = Review(record.decision, record.reviewer, record.at, note or None)  # type: ignore[arg-type]
    return out


@_command
def show(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A rule pack written by leanlearn.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the verified pack JSON only.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=0, metavar="N", help="Show at most N rules per target (0: all).")
    ] = 50,
) -> None:
    """Show a rule pack: where it came from and its rules in plain words.

    The pack is verified first (JSON Schema and content hash): a pack edited by hand is refused. Shows the name,
    line, targets, creation time, content hash, the data it was mined from (rows, fingerprint), the derived
    features, and per target the rules table and each rule in words — the first --limit rules per target (50 by
    default; --limit 0 shows all) — and each rule's review state (pending, approved or rejected, by whom, when,
    why). Given a registered version (models:/leanlearn.<line>.<target>@candidate or .../<version>) instead of a
    file, the review state is the registry's. Text from the pack is printed with control characters escaped, so a
    pack cannot send escape sequences to the terminal.

    \b
    [bold]Examples[/bold]
      leanlearn show models/ai4i-failures.json
      leanlearn show models:/leanlearn.ai4i.HDF@candidate
      leanlearn show models/ai4i-failures.json --limit 0
      leanlearn show models/ai4i-failures.json --json | jq '.rules | length'
    """
    with _user_errors():
        from rich.table import Table
        from rich.text import Text

        from leanlearn.packs.pack import RulePack

        records: dict[str, Any] | None = None
        if str(pack_file).startswith("models:"):  # a registered version: its review lives in the registry
            from leanlearn.packs.registry import load_pack

            pack = load_pack(str(pack_file))
            records = None if json_out else _registry_reviews(str(pack_file))
        else:
            pack = RulePack.load(pack_file)
        if json_out:
            _emit_json(pack)
            return
        console = _console()
        summary = Table.grid(padding=(0, 2))
        summary.add_column(style="bold")
        summary.add_column()
        rows = pack.data.get("rows")
        fingerprint = str(pack.data.get("sha256", ""))[:12]
        summary.add_row("pack", Text(_printable(pack.name)))
        summary.add_row("line", Text(_printable(pack.line)))
        if pack.description:
            summary.add_row("description", Text(_printable(pack.description)))
        summary.add_row("targets", Text(_printable(", ".join(f"{t.name} ({t.waste})" for t in pack.targets))))
        summary.add_row("created", Text(_printable(f"{pack.created} with leanlearn {pack.leanlearn_version}")))
        summary.add_row("rules", Text(f"{len(pack.rules):,}"))
        summary.add_row("content hash", Text(pack.source_hash or pack.content_hash))
        data_text = f"{rows:,} rows" if isinstance(rows, int) else "unknown rows"
        data_text += f" × {len(pack.data.get('columns', []))} columns, sha256 {fingerprint}…"
        if pack.mining.get("source"):
            data_text += f", from {pack.mining['source']}"
        summary.add_row("data", Text(_printable(data_text)))
        derived = "; ".join(f"{name} = {expr}" for name, expr in pack.derived) or "none"
        summary.add_row("derived", Text(_printable(derived)))
        if pack.parent:
            summary.add_row("parent", Text(_printable(pack.parent)))
        console.print(summary)
        _report_rules(console, pack, limit=limit or None)
        if len(pack.rules):
            console.print()
            console.rule(Text("review", style="bold"), align="left")
            console.print(_review_table(pack, records))


@_command
def review(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, metavar="P", help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDR", help="Address to bind (default: this machine only).")
    ] = "127.0.0.1",
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or "
                     "~/.leanlearn/mlflow.db)."),
    ] = None,
) -> None:
    """Open the review app: approve or reject each registered rule, with your name and a reason.

    Serves a Streamlit page (on 127.0.0.1 unless --host says otherwise; the app has no login, so share it on a
    network only where everyone who reaches it may record decisions). It lists the registered rule packs and
    versions, shows a card per rule (its sentence, the evidence with its interval, its review record) and stores
    every decision as tags of the model version and a line of the version's review log in MLflow — the registry is
    the source of truth, so decisions survive a restart and scripts read them with MlflowClient or leanlearn show.
    Once every rule of a version is decided it can be promoted to the alias 'approved'. Stop it with Ctrl+C.

    \b
    [bold]Examples[/bold]
      leanlearn review
      leanlearn review --port 8600
      leanlearn review --tracking-uri http://mlflow.example:5000
    """
    with _user_errors():
        from leanlearn.review import serve

        uri = tracking_uri or None
        _say(_console(stderr=True), f"review app on http://{host}:{port} (Ctrl+C stops it)")
        code = serve(host=host, port=port, tracking_uri=uri)
    if code:
        raise typer.Exit(code)


@_command
def apply(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A rule pack written by leanlearn.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Table to apply it to: CSV, Parquet or JSONL.")],
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the result: .csv, .csv.gz, .parquet or .jsonl.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(metavar="ENC", help="Text encoding of a CSV/JSONL file that is not UTF-8.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, metavar="N", help="List at most N rules in the summary (0: all).")
    ] = 50,
) -> None:
    """Apply a rule pack to new data: which rules fire on each row.

    Computes the pack's derived features on DATA (with the same expressions it was mined with), then lists per row
    the ids of the rules that fire and, per target, whether any rule fires (TARGET_predicted = 1). With --out the
    result (row number, rule ids, predictions) is written as CSV, Parquet or JSON Lines; otherwise a summary of how
    many rows each rule fires on and the first rows are printed.

    \b
    [bold]Examples[/bold]
      leanlearn apply models/ai4i-failures.json today.csv
      leanlearn apply models/ai4i-failures.json today.parquet --out fired.parquet
    """
    with _user_errors():
        from rich.table import Table
        from rich.text import Text

        from leanlearn.data.sources import read_table, table_format, write_table
        from leanlearn.packs.pack import RulePack

        pack = RulePack.load(pack_file)
        if out is not None:
            table_format(out)  # refuse an unknown output format before doing the work
        frame = read_table(data, encoding=encoding)
        with _about(data, PackError):  # a rule needing a column the data lacks
            result = pack.apply(frame)
        result.insert(0, "row", range(len(result)))
        console = _console()
        if out is not None:
            write_table(result, out)
            fired = int(result["rules"].map(len).astype(bool).sum())
            _say(console, f"wrote {len(result):,} rows to {out}; at least one rule fires on {fired:,} of them")
            return
        counts = Table(title="rows each rule fires on", title_justify="left", show_edge=False, header_style="bold")
        for name, justify in (("id", "left"), ("rule", "left"), ("rows", "right"), ("share", "right")):
            counts.add_column(name, justify=justify)  # type: ignore[arg-type]
        from collections import Counter

        fired_ids = result["rules"]
        total = max(len(result), 1)
        per_rule = Counter(rid for ids in fired_ids for rid in set(ids))
        listed = pack.rules if not limit else pack.rules[:limit]
        for rule in listed:
            n = per_rule.get(rule.id, 0)
            counts.add_row(Text(_printable(rule.id)), Text(_printable(rule.text)), f"{n:,}", f"{n / total:.1%}")
        if len(pack.rules) > len(listed):
            counts.add_row(Text("…", style="dim"), Text(f"{len(pack.rules) - len(listed):,} more rule(s): --limit 0 "
                                                          "lists all", style="dim"), "", "")
        any_rule = int(fired_ids.map(len).astype(bool).sum())
        counts.add_row(Text("any", style="bold"), Text("at least one rule"), f"{any_rule:,}", f"{any_rule / total:.1%}")
        _say(console, _printable(f"{data}: {len(result):,} rows; pack {pack.name!r} with {len(pack.rules)} rules"),
             "dim")
        console.print(counts)
        head = Table(title="first rows", title_justify="left", show_edge=False, header_style="bold")
        for column in result.columns:
            head.add_column(str(column), justify="left" if column == "rules" else "right")
        for _, row in result.head(10).iterrows():
            head.add_row(*[Text(_printable(", ".join(v) or "—")) if isinstance(v, list) else Text(_printable(v))
                           for v in row.tolist()])
        console.print()
        console.print(head)


@_command
def explain(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A rule pack written by leanlearn.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Data with the pack's features and targets.")],
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Where to write the HTML report (default PACK.report.html).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the figures per rule as JSON.")] = False,
    encoding: Annotated[
        str | None, typer.Option(metavar="ENC", help="Text encoding of a CSV/JSONL file that is not UTF-8.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Explain each rule of a pack with a LightGBM surrogate and SHAP, and write a self-contained HTML report.

    Fits one cross-validated LightGBM model per target on the pack's features (derived ones recomputed), computes
    SHAP values, and checks per rule whether the model sees it too (corroboration: the share of covered rows where
    the rule's features push toward the outcome, and the share of |SHAP| they hold there). A rule the model does not
    see is flagged, not hidden. The report has one section per rule: its sentence in plain words, the evidence with
    its interval, the corroboration, a dependence plot per condition with the threshold drawn, and counterexample
    rows; it opens from a file (no network). With --json only the figures per rule are printed.

    \b
    [bold]Examples[/bold]
      leanlearn explain models/ai4i-failures.json ai4i2020.csv --out ai4i-report.html
      leanlearn explain models/ai4i-failures.json ai4i2020.csv --json > figures.json
    """
    with _user_errors():
        import json

        from leanlearn.data.sources import read_table
        from leanlearn.explain.core import explain as run_explain
        from leanlearn.packs.pack import RulePack

        pack = RulePack.load(pack_file)
        frame = read_table(data, encoding=encoding)
        show = _progress_enabled(quiet)
        status = _console(stderr=True).status("explaining") if show else None
        if status is not None:
            status.start()
        try:
            with _about(data, PackError):
                result = run_explain(pack, frame, progress=status.update if status is not None else None)
            if json_out:
                typer.echo(json.dumps(result.to_json(), ensure_ascii=False, allow_nan=False))
                return
            from leanlearn.explain.report import write_report

            if status is not None:
                status.update("writing the report")
            target = out or pack_file.with_name(pack_file.stem + ".report.html")
            write_report(result, pack, target)
        finally:
            if status is not None:
                status.stop()
        console = _console()
        rules = result.rules
        flagged = rules[~rules["corroborated"].astype(bool)]
        for row in rules.itertuples(index=False):
            mark = "corroborated" if row.corroborated else f"NOT corroborated: {row.reason}"
            _say(console, _printable(f"  {row.rule_id}: {mark}"), None if row.corroborated else "yellow")
        _say(console, f"explained {len(rules)} rule(s) in {result.seconds:.1f} s; {len(flagged)} not corroborated")
        _say(console, f"wrote the report to {target}")


def _run_pipeline_command(
    pipeline: MiningPipeline, *, out: Path | None, register: bool, quiet: bool, json_out: bool, demo: bool = False
) -> None:
    """Run ``pipeline``, write its pack, register it if asked, and report (shared by ``run`` and ``demo``)."""
    from leanlearn.pipeline import run_pipeline

    progress = _Progress(pipeline.targets, _progress_enabled(quiet))
    console = _console()
    if not json_out:
        title = "leanlearn demo — " if demo else "pipeline "
        _say(console, f"{title}{pipeline.name} (line {pipeline.line})", "bold")
        if pipeline.description:
            _say(console, pipeline.description)
        _say(console, f"mining {', '.join(pipeline.targets)} from {pipeline.source.label}", "dim")
    started = time.perf_counter()
    with progress.running():
        progress.reading(pipeline.source.label)
        pack = run_pipeline(pipeline, on_target=progress.on_target)
    elapsed = time.perf_counter() - started
    path = out or pipeline.out or Path("models") / f"{pipeline.name}.json"
    pack.save(path)
    if _emitted_json(pack, json_out, register, progress.enabled):
        return
    _report_rules(console, pack, progress.stats, table=not demo)
    console.print()
    _say(console, f"mined {len(pack.rules)} rule(s) for {len(pack.targets)} target(s) in {elapsed:.1f} s")
    _print_saved(console, pack, path)
    registered = _register(pack, console, progress.enabled) if register else []
    if not register and pipeline.register:
        _say(console, "not registered (--no-register); run without it to store the pack in the MLflow registry")
    report = path.with_name(path.stem + ".report.html") if demo else None
    if demo or registered:
        report = _explain_and_log(console, pack, pipeline.source.read(), registered, progress.enabled, report)
    if demo:
        console.print()
        _say(console, "next:", "bold")
        steps = [(f"open {report}", "every rule explained: SHAP corroboration, plots, counterexamples")] if report \
            else []
        steps += [(f"leanlearn show {path}", "the pack, verified, with its evidence"),
                 (f"leanlearn apply {path} DATA.csv", "which rules fire on new data")]
        if registered:
            steps.append(("leanlearn review", "approve or reject each rule in the review app"))
        width = max(len(command) for command, _ in steps)
        for command, what in steps:
            _say(console, f"  {command.ljust(width)}   # {what}")


def _explain_and_log(console: Console, pack: RulePack, frame: Any, registered: list[Any], progress: bool,
                     report: Path | None = None) -> Path | None:
    """Explain ``pack`` on the data it was mined from, write the report to ``report`` if given, and log figures and
    report beside each registered version. An explanation that cannot be made is said, never fatal: the pack is
    already saved and registered."""
    if not pack.rules or (report is None and not registered):
        return None
    from leanlearn.explain import explain as explain_pack
    from leanlearn.explain.report import report_html

    started = time.perf_counter()
    try:
        if progress:
            with _console(stderr=True).status("explaining the rules (LightGBM surrogate + SHAP)"):
                explanation = explain_pack(pack, frame)
        else:
            explanation = explain_pack(pack, frame)
    except LeanlearnError as exc:
        _say(console, _printable(f"not explained: {exc}"), "yellow")
        return None
    html = report_html(explanation, pack)
    flagged = int((~explanation.rules["corroborated"].astype(bool)).sum()) if len(explanation.rules) else 0
    console.print()
    where = ""
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(html, encoding="utf-8")
        where = f"; report: {report}"
    _say(console, f"explained {len(explanation.rules)} rule(s) in {time.perf_counter() - started:.1f} s "
                  f"({flagged} not corroborated by the surrogate){where}")
    if registered:
        from leanlearn.packs.registry import log_explanation

        figures = explanation.to_json()
        for item in registered:
            log_explanation(item.version_uri, figures, html)
        _say(console, "the explanation report and figures are logged beside each registered version")
    return report


@_command
def run(
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="A mining pipeline file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print only the pack JSON (for scripts).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    out: Annotated[
        Path | None, typer.Option(metavar="PACK.json", help="Write the pack here instead of the pipeline's 'out'.")
    ] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Do not register, even if the pipeline says 'register: true'.")
    ] = False,
) -> None:
    """Run a mining pipeline YAML: read the source, mine every target, write (and register) the pack.

    A pipeline file declares the source (a shipped dataset or a file, relative to the YAML's folder), the targets,
    ignored columns, derived features, waste tags, units, miner parameters, where the pack goes ('out', relative
    to the working directory) and whether to register it in MLflow. See pipelines/ai4i.yaml for a commented
    example; `leanlearn demo` runs that one.

    \b
    [bold]Examples[/bold]
      leanlearn run pipelines/ai4i.yaml
      leanlearn run pipelines/press-line.yaml --no-register --json > pack.json
    """
    with _user_errors():
        from leanlearn.pipeline import check_out, load_pipeline

        pipeline = load_pipeline(pipeline_file)
        if out is None:
            check_out(pipeline)  # a pipeline file may replace a rule pack, nothing else
        _run_pipeline_command(
            pipeline, out=out, register=pipeline.register and not no_register, quiet=quiet, json_out=json_out
        )


@_command
def demo(
    out: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Where to write the pack (default models/ai4i-failures.json).")
    ] = None,
    no_register: Annotated[bool, typer.Option("--no-register", help="Do not register the pack in MLflow.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Run the shipped demo: rules behind machine failures in the real AI4I 2020 data.

    Mines the 10,000 milling operations of AI4I 2020 for the process conditions behind four failure modes (heat
    dissipation, power, overstrain, tool wear), using derived features such as the process-minus-air temperature
    and the spindle power; prints every rule in plain words with its evidence; writes the pack to
    models/ai4i-failures.json (relative to the working directory); and registers it in the local MLflow registry,
    printing how to open the MLflow UI. It is `leanlearn run` on the shipped pipelines/ai4i.yaml.

    \b
    [bold]Examples[/bold]
      leanlearn demo
      leanlearn demo --no-register --out /tmp/ai4i.json
    """
    with _user_errors():
        from leanlearn.pipeline import load_pipeline, shipped_pipeline

        pipeline = load_pipeline(shipped_pipeline("ai4i"))
        _run_pipeline_command(
            pipeline, out=out, register=pipeline.register and not no_register, quiet=quiet, json_out=False, demo=True
        )


@_command
def fuse(
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="A fusion pipeline file.")],
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Folder for the tables (default fused/<pipeline name>/).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the reconciliation JSON (for scripts).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Fuse MES, ERP, WMS and PLC exports into the canonical tables, as a fusion pipeline YAML declares.

    Reads every source of PIPELINE.yaml (CSV, Parquet, JSONL, a shipped dataset, or a SQL table or query through a
    SQLAlchemy URL), maps its rows onto the canonical tables (operations, downtime, demand, signals, moves), converts
    timestamps to UTC (safe across daylight-saving changes), material codes and units, and writes one Parquet file
    per table plus quarantine.parquet and reconciliation.json into DIR. Nothing disappears: every row read is in a
    table or in the quarantine with a reason code, and per source read = used + quarantined. It prints that
    reconciliation and the top quarantine reasons with an example row each. See pipelines/production_4tu.yaml for a
    commented example.

    \b
    [bold]Examples[/bold]
      leanlearn fuse pipelines/production_4tu.yaml
      leanlearn fuse pipelines/press-line.yaml --out data/fused --json > reconciliation.json
    """
    with _user_errors():
        import json

        from rich.table import Table
        from rich.text import Text

        from leanlearn.data.fusion import fuse as fuse_pipeline
        from leanlearn.data.fusion import load_fusion

        pipeline = load_fusion(pipeline_file)
        target = out or Path("fused") / pipeline.name
        if target.exists() and not target.is_dir():
            raise DataError(f"{target}: is a file; name a folder for the fused tables with --out DIR")
        if _progress_enabled(quiet) and not json_out:
            with _console(stderr=True).status(f"fusing {len(pipeline.sources)} source(s) of {pipeline.name}"):
                result = fuse_pipeline(pipeline)
        else:
            result = fuse_pipeline(pipeline)
        result.write(target)
        doc = result.reconciliation_json()
        if json_out:
            typer.echo(json.dumps(doc, indent=2))
            return
        console = _console()
        _say(console, f"fusion pipeline {pipeline.name} (line {pipeline.line})", "bold")
        if pipeline.description:
            _say(console, pipeline.description)
        recon = Table(title="reconciliation per source: read = used + quarantined", title_justify="left",
                      show_edge=False, header_style="bold")
        for name, justify in (("source", "left"), ("read", "right"), ("used", "right"), ("quarantined", "right"),
                              ("by reason", "left")):
            recon.add_column(name, justify=justify)  # type: ignore[arg-type]
        for record in doc["sources"]:
            reasons = ", ".join(f"{reason} {count:,}" for reason, count in record["reasons"].items()) or "—"
            recon.add_row(Text(record["source"]), f"{record['read']:,}", f"{record['used']:,}",
                          f"{record['quarantined']:,}", Text(reasons))
        console.print(recon)
        top = result.top_reasons()
        if len(top):
            console.print()
            reason_table = Table(title="top quarantine reasons, with an example row each", title_justify="left",
                                 show_edge=False, header_style="bold")
            for name, justify in (("reason", "left"), ("rows", "right"), ("example", "left")):
                reason_table.add_column(name, justify=justify)  # type: ignore[arg-type]
            for item in top.to_dict("records"):
                example = f"{item['source']} row {item['row']}"
                if item["column"] is not None:
                    example += f", {item['column']} = {item['value']!r}"
                reason_table.add_row(Text(item["reason"]), f"{item['count']:,}",
                                     Text(f"{example}: {item['message']}"))
            console.print(reason_table)
        console.print()
        written = ", ".join(f"{name} ({rows:,} rows)" for name, rows in doc["tables"].items())
        _say(console, f"wrote {written}, quarantine ({doc['quarantined']:,} rows) and reconciliation.json to {target}")


def _vsm_tables(
    source: Path | None, downtime: Path | None, demand: Path | None
) -> tuple[str, dict[str, Any]]:
    """The canonical tables for ``vsm``: the demo log, a fused folder, a fusion pipeline, or an operations file."""
    from leanlearn.data.sources import read_table

    tables: dict[str, Any] = {}
    if source is None:
        from leanlearn.data.datasets import load_production_4tu
        from leanlearn.lean.valuestream import events_to_canonical

        tables["operations"], tables["downtime"] = events_to_canonical(load_production_4tu(events=True), line="4tu")
        label = "the shipped 4TU machine-shop log (2012)"
    elif source.is_dir():
        for name in ("operations", "downtime", "demand"):
            if (source / f"{name}.parquet").is_file():
                tables[name] = read_table(source / f"{name}.parquet")
        if "operations" not in tables:
            raise DataError(f"{source}: holds no operations.parquet; name a folder written by `leanlearn fuse` or an "
                            "operations table file")
        label = str(source)
    elif source.suffix.lower() in (".yaml", ".yml"):
        from leanlearn.data.fusion import fuse as fuse_pipeline

        tables = dict(fuse_pipeline(source).tables)
        if "operations" not in tables:
            raise DataError(f"{source}: the pipeline feeds no operations table; map a source onto 'operations'")
        label = str(source)
    else:
        tables["operations"] = read_table(source)
        label = str(source)
    if downtime is not None:
        tables["downtime"] = read_table(downtime)
    if demand is not None:
        tables["demand"] = read_table(demand)
    return label, tables


def _vsm_report(console: Console, vs: Any, label: str) -> None:
    """The per-station table and the highlights of a value stream, for people."""
    from rich.table import Table
    from rich.text import Text

    from leanlearn.lean.plots import duration_text

    def share(value: float) -> str:
        return "–" if value != value else f"{value:.0%}"

    unit = "per unit" if vs.qty else "per operation"
    table = Table(title=f"value stream of {label}: one row per station, in flow order (cycle times {unit})",
                  title_justify="left", show_edge=False, header_style="bold")
    for name in ("station", "ops", "cycle p50", "cycle p90", "CV", "wait p50", "setup p50", "setups", "down h",
                 "util.", "uptime", "bottleneck"):
        table.add_column(name, justify="left" if name == "station" else "right", no_wrap=name != "station")
    neck = vs.bottleneck_station
    for row in vs.nodes.to_dict("records"):
        cv = "–" if row["cycle_cv"] != row["cycle_cv"] else f"{row['cycle_cv']:.2f}"
        table.add_row(
            Text(row["station"], style="bold red" if row["station"] == neck else ""), f"{row['operations']:,}",
            duration_text(row["cycle_p50_min"]), duration_text(row["cycle_p90_min"]), cv,
            duration_text(row["wait_p50_min"]), duration_text(row["setup_p50_min"]), f"{row['setup_n']:,}",
            f"{row['downtime_h']:.1f}", share(row["utilization"]), share(row["uptime"]),
            share(row["bottleneck_share"]),
        )
    console.print(table)
    console.print()
    if neck is not None:
        top = vs.bottleneck.set_index("station").loc[neck]
        _say(console, f"bottleneck: {neck} — the longest active period {top['bottleneck_share']:.0%} of the time "
                      f"(sole {top['sole_share']:.0%}, shifting {top['shifting_share']:.0%})", "bold")
    if len(vs.changeover_matrix):
        first = vs.changeover_matrix.iloc[0]
        _say(console, f"costliest changeover: {first['from_material']} → {first['to_material']}, "
                      f"{first['count']}× with median {duration_text(first['median_min'])}, "
                      f"{first['total_h']:.0f} h of setup in all")
    if len(vs.flow):
        _say(console, f"per {'order' if vs.key == 'order_id' else 'unit'} (median): lead time "
                      f"{duration_text(vs.flow['lead_min'].median())}, flow efficiency "
                      f"{vs.flow['flow_efficiency'].median():.0%}")
    if vs.takt_min is not None:
        _say(console, f"takt: {duration_text(vs.takt_min)}")


@_command
def vsm(
    source: Annotated[
        Path | None,
        typer.Argument(metavar="PIPELINE_OR_TABLE",
                       help="Operations table (CSV, Parquet, JSONL), a folder written by `leanlearn fuse`, or a "
                            "fusion pipeline YAML. Omit it (or give --demo) for the shipped 4TU log."),
    ] = None,
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder for the charts (PNG, SVG) and tables (CSV).")
    ] = Path("vsm"),
    json_out: Annotated[bool, typer.Option("--json", help="Print only the per-station table as JSON.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Run on the shipped 4TU machine-shop log (2012).")] = False,
    downtime: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Downtime table (station, start, end, reason, planned).")
    ] = None,
    demand: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Demand table (material, period_start, period_end, qty): takt.")
    ] = None,
    qty: Annotated[
        str | None, typer.Option(metavar="COL", help="Quantity column: cycle times per unit (demo: good_qty).")
    ] = None,
    max_stations: Annotated[int, typer.Option(min=1, metavar="N", help="Stations in the chart (the busiest).")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Measure the value stream of a line: per station cycle, waiting, setup, downtime, utilization, bottleneck.

    Everything comes from the timestamps of the canonical operations table (station, start, end; kind, order_id or
    unit_id, material when present) and, if given, the downtime and demand tables: per station the distribution
    (p50, p90, CV) of cycle times, of the waiting before it and of its changeovers, its utilization and uptime, and
    how often it is the bottleneck (active-period method); per order the lead time and flow efficiency; the
    changeover matrix (from material → to material). Prints the per-station table and writes into DIR the
    value-stream map, the changeover matrix, the cycle-time and WIP charts (PNG and SVG) and every table as CSV.
    With --json only the per-station table is printed, as JSON.

    \b
    [bold]Examples[/bold]
      leanlearn vsm --demo
      leanlearn vsm operations.parquet --downtime downtime.csv --out reports/vsm
      leanlearn fuse pipelines/production_4tu.yaml && leanlearn vsm fused/production-4tu --qty good_qty
      leanlearn vsm pipelines/production_4tu.yaml --qty good_qty --json | jq '.[0]'
    """
    with _user_errors():
        from contextlib import nullcontext

        from leanlearn.lean.plots import plot_changeover_matrix, plot_cycle_distribution, plot_value_stream, plot_wip
        from leanlearn.lean.valuestream import value_stream

        if demo and source is not None:
            raise DataError(f"give PIPELINE_OR_TABLE ({source}) or --demo, not both")
        if out.exists() and not out.is_dir():
            raise DataError(f"{out}: is a file; name a folder for the charts and tables with --out DIR")
        label, tables = _vsm_tables(source, downtime, demand)
        if source is None and qty is None:
            qty = "good_qty"
        spinner = _progress_enabled(quiet) and not json_out
        with _console(stderr=True).status("measuring the value stream") if spinner else nullcontext() as status:
            with _about(source or Path("4TU demo")):
                vs = value_stream(tables["operations"], tables.get("downtime"), tables.get("demand"), qty=qty)
            if status is not None:
                status.update("drawing the charts")
            out.mkdir(parents=True, exist_ok=True)
            plot_value_stream(vs, out / "value_stream.png", max_stations=max_stations)
            plot_changeover_matrix(vs, out / "changeovers.png")
            plot_cycle_distribution(vs, out / "cycle_times.png")
            plot_wip(vs, out / "wip.png")
            written = vs.save_tables(out)
        if json_out:
            typer.echo(vs.nodes.to_json(orient="records", double_precision=6))
            return
        console = _console()
        _vsm_report(console, vs, label)
        console.print()
        _say(console, f"wrote the charts value_stream, changeovers, cycle_times and wip (PNG and SVG) and "
                      f"{len(written)} tables (CSV: {', '.join(p.stem for p in written)}) to {out}")


def _mqtt_source(url: str, pack: Any, *, checkpoint: Path | None, payload_format: str, qos: int,
                 client_id: str | None, mapping: Path | None, id_column: str, max_batch: int,
                 max_latency: float) -> Any:
    """The :class:`~leanlearn.online.mqtt.MqttStream` of ``leanlearn monitor PACK mqtt://...``."""
    from leanlearn.online.evaluate import CompiledPack
    from leanlearn.online.mqtt import MqttStream, default_client_id

    decoder = None
    if payload_format not in ("json", "sparkplug"):
        raise DataError(f"--format {payload_format!r}: give json or sparkplug")
    if payload_format == "sparkplug":
        if mapping is None:
            raise DataError("--format sparkplug needs --mapping MAP.yaml (which metric is which column of the pack)")
        from leanlearn.online.sparkplug import SparkplugDecoder, SparkplugMapping

        spb_mapping = SparkplugMapping.from_yaml(mapping)
        decoder = SparkplugDecoder(spb_mapping)  # it drops redelivered messages itself (by content)
    elif mapping is not None:
        raise DataError("--mapping is for --format sparkplug")
    if client_id is None:
        folder = None if checkpoint is None else str(checkpoint.resolve())
        client_id = default_client_id(pack.content_hash, folder) if folder is not None else None
    columns = sorted(CompiledPack(pack).columns)
    return MqttStream(url, format=payload_format, qos=qos, client_id=client_id, persistent=checkpoint is not None,
                      columns=columns, id_column=id_column, max_batch=max_batch, max_latency=max_latency,
                      decoder=decoder)


@_command
def monitor(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A rule pack written by leanlearn.")],
    stream: Annotated[
        str,
        typer.Argument(metavar="STREAM",
                       help="A table file to replay, a folder of JSONL/CSV files to tail, - (JSON Lines on stdin), "
                            "or mqtt://HOST:PORT/TOPIC_FILTER."),
    ],
    window: Annotated[
        str, typer.Option("--window", "-w", metavar="N|DURATION",
                          help="Events per window (e.g. 2000), or a duration with --time (e.g. 10min).")
    ] = "1000",
    time_column: Annotated[
        str | None, typer.Option("--time", metavar="COL", help="Column with each event's time (ISO 8601 or epoch s).")
    ] = None,
    horizon: Annotated[
        str, typer.Option("--horizon", metavar="DURATION",
                          help="With a time window: quarantine events timed more than this after the latest "
                               "accepted time and the clock.")
    ] = "1d",
    false_alarms: Annotated[
        float, typer.Option("--false-alarms-per-million", metavar="F",
                            help="False drift alarms of the sequential test you accept per rule per million events "
                                 "(lower: quieter, slower to call a drift; 0 turns the test off).")
    ] = 0.1,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", metavar="FILE.jsonl", help="Append the alerts to this JSON Lines file.")
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", metavar="FILE.jsonl",
                     help="Write unusable events here (default: beside --alerts, else in --checkpoint)."),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", metavar="DIR", help="Save the state here; a restart with it resumes exactly."),
    ] = None,
    every: Annotated[int, typer.Option("--every", min=1, metavar="N", help="Events between checkpoints.")] = 10_000,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.001, metavar="R", help="Replay a file at R events per second.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Keep tailing a folder for new lines, or stop at its end.")
    ] = True,
    revise: Annotated[
        Path | None,
        typer.Option("--revise", metavar="DIR",
                     help="On drift, re-mine the recent events; write the candidate pack and its diff here."),
    ] = None,
    register: Annotated[
        bool, typer.Option("--register", help="With --revise: register each candidate in MLflow (alias candidate).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print only a JSON summary at the end (scripts).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status line and no alert lines.")] = False,
    payload_format: Annotated[
        str, typer.Option("--format", metavar="json|sparkplug", help="MQTT: payload format.")
    ] = "json",
    qos: Annotated[int, typer.Option("--qos", metavar="0|1", help="MQTT: subscription QoS.")] = 1,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", metavar="ID",
                     help="MQTT: id of the persistent session (default: derived from the pack and --checkpoint)."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", metavar="MAP.yaml", help="MQTT with --format sparkplug: metric -> column mapping."),
    ] = None,
    id_column: Annotated[
        str, typer.Option("--id-column", metavar="COL", help="MQTT: column of the event id used to drop duplicates.")
    ] = "event_id",
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, metavar="N", help="MQTT: largest micro-batch, in events.")
    ] = 5000,
    max_latency: Annotated[
        float, typer.Option("--max-latency", min=0.001, metavar="S",
                            help="MQTT: close a micro-batch this many seconds after its first event.")
    ] = 0.2,
    reschedule: Annotated[
        Path | None,
        typer.Option("--reschedule", metavar="INSTANCE",
                     help="Also repair the plan of this job shop (text or YAML instance) when a station goes down or "
                          "its takt drifts; needs --plan."),
    ] = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", metavar="SCHEDULE.json", help="With --reschedule: the current plan.")
    ] = None,
    takt_tolerance: Annotated[
        float, typer.Option("--takt-tolerance", min=0.0, metavar="T",
                            help="With --reschedule: replan when a station runs late or early by more than this share "
                                 "of the planned durations.")
    ] = 0.1,
    plan_out: Annotated[
        Path | None, typer.Option("--plan-out", metavar="FILE.json",
                                  help="With --reschedule: write the plan here after every repair and at the end.")
    ] = None,
    mlflow_metrics: Annotated[
        bool,
        typer.Option("--mlflow", help="Also log every alert as MLflow metrics (state.<rule>, confidence.<rule>) in "
                                      "one run of experiment 'leanlearn-monitor' ($MLFLOW_TRACKING_URI or the "
                                      "local store)."),
    ] = False,
) -> None:
    """Track a rule pack on live events: sliding windows, drift alerts, revisions, exact resume.

    Every active rule of the pack (not rejected in review) is tracked over a sliding window: its confidence is
    compared with the interval its evidence predicts for that many firings, and River's ADWIN (Page-Hinkley for
    numeric outcomes) watches its hits. A rule goes ok → warning when its windowed confidence leaves the interval,
    and → drift when a detector fired and it stays out; it comes back to ok after enough checks inside. Each change
    is an alert: printed, and appended to --alerts as JSON Lines. With --revise, some events after a drift the
    recent events are re-mined with the pack's settings into a candidate pack (parent: this pack) and a diff.

    An event with a value that cannot be used (text where a number belongs, a list, no or an unreadable time, a
    time more than --horizon in the future) is quarantined — written with its reason to the quarantine file and
    counted — and the run goes on.

    Ctrl-C or SIGTERM stops cleanly, whatever the stream: alerts flushed, checkpoint written, summary printed
    (exit 0). With --checkpoint, a restart — even after kill -9 — resumes at the last checkpoint with no event lost
    or counted twice (for stdin, send the same stream again from its start: the events already counted are skipped).

    \b
    [bold]Examples[/bold]
      leanlearn monitor models/ai4i-failures.json today.csv --window 2000 --alerts alerts.jsonl
      leanlearn monitor models/ai4i-failures.json today.csv --rate 500 --checkpoint state/
      cat events.jsonl | leanlearn monitor models/press.json - --checkpoint state/ --alerts alerts.jsonl
      leanlearn monitor models/press.json spool/ --time ts --window 10min --revise candidates/
      leanlearn monitor models/press.json mqtt://127.0.0.1:1883/plant/line2/# --checkpoint state/ --alerts a.jsonl
      leanlearn monitor models/press.json mqtt://broker/spBv1.0/Plant/# --format sparkplug --mapping map.yaml

    Over MQTT (QoS 1, persistent session, MQTT v5) a message is acknowledged only once the checkpoint holding its
    events is on disk, and redelivered events are dropped by --id-column: with --checkpoint, a restart (even after
    kill -9) or a broker restart with persistence counts every event once. A message that is not JSON, not an object
    or array of objects, too large, or lacks a column of the pack is quarantined with its topic and raw payload.

    With --reschedule INSTANCE --plan PLAN.json the same stream also drives the rescheduling
    (leanlearn.schedule.trigger): an event {"station": "M1", "event": "down", "time": 120}, a downtime row (station,
    start, end) or operation completions (station, job, end) whose takt deviates beyond --takt-tolerance repair the
    plan with CP-SAT within 10 s; each repair is printed, and with --mlflow its KPIs (makespan, tardiness,
    bottleneck idle, operations moved) are logged in the same run as the rule metrics. The rule monitor sees the
    station events too: they carry none of the pack's columns, so no rule fires on them (in a window of N events they
    count as events).
    """
    with _user_errors():
        import json

        from leanlearn.online.base import MonitorError
        from leanlearn.online.run import run_monitor
        from leanlearn.online.settings import TrackerSettings, Window
        from leanlearn.online.streams import open_stream
        from leanlearn.packs.pack import RulePack

        if register and revise is None:
            raise DataError("--register registers the candidate packs of --revise; give --revise DIR as well")
        try:
            windows = Window.parse(window), Window.parse(horizon, what="horizon")
        except MonitorError as exc:
            raise MonitorError(f"--{exc}") from None
        settings = TrackerSettings(windows[0], time_column or None, horizon=windows[1],
                                   false_alarms_per_million=false_alarms)
        pack = RulePack.load(pack_file)
        if stream.lower().startswith(("mqtt://", "mqtts://")):
            source: Any = _mqtt_source(stream, pack, checkpoint=checkpoint, payload_format=payload_format, qos=qos,
                                       client_id=client_id, mapping=mapping, id_column=id_column,
                                       max_batch=max_batch, max_latency=max_latency)
        else:
            if mapping is not None or payload_format != "json":
                raise DataError("--format and --mapping are for an mqtt:// STREAM")
            source = open_stream(stream, rate=rate, follow=follow)
        console = _console()
        talk = not quiet and not json_out
        reviser = None
        if revise is not None:
            from leanlearn.online.revision import Reviser

            reviser = Reviser(pack, revise, register=register)

        metrics = None
        if mlflow_metrics:
            from leanlearn.packs.registry import AlertMetrics

            metrics = AlertMetrics(pack)
        if (plan_file is not None or plan_out is not None) and reschedule is None:
            raise DataError("--plan and --plan-out go with --reschedule INSTANCE")
        trigger: Any = None
        if reschedule is not None:
            from leanlearn.schedule import read_instance, read_schedule
            from leanlearn.schedule.instance import InstanceError
            from leanlearn.schedule.trigger import RescheduleTrigger

            if plan_file is None:
                raise DataError("--reschedule needs the current plan: --plan PLAN.json (from 'leanlearn schedule "
                                "solve INSTANCE --json')")
            with _about(reschedule, InstanceError):
                shop = read_instance(reschedule)
            plan = read_schedule(plan_file)  # its errors name the plan file
            schedule_metrics = None
            if metrics is not None:
                from leanlearn.schedule.tracking import ScheduleMetrics

                schedule_metrics = ScheduleMetrics(alerts=metrics, instance=shop.name)

            def on_repair(done: Any) -> None:
                if plan_out is not None:  # after every repair, atomically: a kill -9 leaves the latest plan there
                    from leanlearn import _util

                    try:
                        _util.write_text_atomic(plan_out, json.dumps(done.schedule.to_json()))
                    except OSError:  # the monitor goes on; the write at the end names the problem
                        pass
                if schedule_metrics is not None:
                    schedule_metrics(done)
                if talk:
                    k = done.result.kpis
                    _say(console, f"rescheduled ({done.reason}, event {done.step:,}): makespan {k['makespan']:,}, "
                                  f"tardiness {k['total_tardiness']:,}, {k['operations_moved']:,} operation(s) moved",
                         "bold")

            with _about(reschedule, InstanceError):
                trigger = RescheduleTrigger(shop, plan, tolerance=takt_tolerance, on_repair=on_repair)
            source = trigger.wrap(source)

        def on_alerts(found: list[Any]) -> None:
            if metrics is not None:
                metrics(found)
            if talk:
                for alert in found:
                    _say(console, _printable(alert.message),
                         {"drift": "bold red", "warning": "yellow"}.get(alert.state, "green"))

        def on_revision(revision: Any) -> None:
            if talk:
                _say(console, revision.describe(), "bold")

        status: Any = None

        def on_progress(p: Any) -> None:
            if status is not None:
                states = " · ".join(f"{n} {s}" for s, n in p.states.items())
                held = f" · {p.quarantined:,} quarantined" if p.quarantined else ""
                status.update(f"monitor: {p.total_events:,} events · {p.rate:,.0f} events/s · {states} · "
                              f"{p.alerts} alert{'s' if p.alerts != 1 else ''}{held}")

        kwargs: dict[str, Any] = {"alerts": alerts, "checkpoint": checkpoint, "checkpoint_every": every,
                                  "settings": settings, "quarantine": quarantine, "on_alerts": on_alerts,
                                  "reviser": reviser, "on_revision": on_revision}
        try:
            if talk and _console(stderr=True).is_terminal:
                with _console(stderr=True).status("monitor: starting") as status:
                    summary = run_monitor(pack, source, on_progress=on_progress, **kwargs)
            else:
                summary = run_monitor(pack, source, **kwargs)
        finally:
            if metrics is not None:
                metrics.close()
        assert summary.monitor is not None
        written = [str(p) for p in (reviser.written if reviser is not None else [])]
        schedule_doc: dict[str, Any] | None = None
        if trigger is not None:
            schedule_doc = {"repairs": trigger.n_repairs, "ignored": trigger.n_ignored,
                            "makespan": trigger.current.makespan, "problems": list(trigger.problems)[:5]}
            if plan_out is not None:
                from leanlearn import _util

                try:
                    _util.write_text_atomic(plan_out, json.dumps(trigger.current.to_json()))
                except OSError as exc:
                    raise DataError(f"--plan-out {plan_out}: cannot write the plan ({exc.strerror or exc}); "
                                    "give a writable file") from None
                schedule_doc["plan"] = str(plan_out)
        if json_out:
            typer.echo(json.dumps({
                "events": summary.events, "total_events": summary.total_events, "seconds": round(summary.seconds, 3),
                "rate": round(summary.rate, 1), "alerts": summary.alerts, "states": summary.states,
                "rules": summary.monitor.states, "resumed_from": summary.resumed_from, "stopped": summary.stopped,
                "bad_lines": summary.bad_lines, "quarantined": summary.quarantined,
                "quarantine": None if summary.quarantine is None else str(summary.quarantine),
                "problems": summary.problems,
                **({"duplicates": source.duplicates} if hasattr(source, "duplicates") else {}),
                "checkpoint": None if summary.checkpoint is None else str(summary.checkpoint), "candidates": written,
                **({"schedule": schedule_doc} if schedule_doc is not None else {}),
            }))
            return
        from rich.table import Table
        from rich.text import Text

        status_frame = summary.monitor.status()
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for name, justify in (("id", "left"), ("rule", "left"), ("state", "left"), ("window confidence", "right"),
                              ("expected", "right"), ("pack", "right")):
            table.add_column(name, justify=justify, no_wrap=name != "rule")  # type: ignore[arg-type]
        styles = {"drift": "bold red", "warning": "yellow", "ok": "green"}
        for row in status_frame.to_dict("records"):
            seen = f"{row['confidence']:.0%} of {row['fired']:,}" if row["fired"] else "not fired"
            expected = f"{row['expected_low']:.0%}–{row['expected_high']:.0%}" if row["fired"] else "—"
            state = str(row["state"])
            table.add_row(Text(_printable(row["id"])), Text(_printable(row["rule"])), Text(state, style=styles[state]),
                          seen, expected, f"{row['evidence']:.0%}")
        console.print()
        console.print(table)
        how = "stopped on request" if summary.stopped else "stream ended"
        line = (f"{how}: {summary.events:,} events in {summary.seconds:.1f} s ({summary.rate:,.0f} events/s), "
                f"{summary.alerts} alert{'s' if summary.alerts != 1 else ''}")
        if summary.resumed_from is not None:
            line += f"; resumed at event {summary.resumed_from:,}, now at {summary.total_events:,}"
        _say(console, line)
        if summary.quarantined or summary.bad_lines:
            held = f"{summary.quarantined:,} event{'s' if summary.quarantined != 1 else ''} quarantined"
            if summary.quarantine is not None and summary.quarantined:
                held += f" (reasons in {summary.quarantine})"
            if summary.bad_lines:
                held += f", {summary.bad_lines:,} line{'s' if summary.bad_lines != 1 else ''} not JSON objects"
            _say(console, held, "yellow")
            for problem in summary.problems[:5]:
                _say(console, f"  {_printable(problem)}", "yellow")
        if getattr(source, "sessions_lost", 0) or getattr(source, "duplicates", 0):
            _say(console, f"MQTT: {source.duplicates:,} redelivered event(s) dropped by id")
            if source.sessions_lost:
                _say(console, f"MQTT: {source.problems[0] if source.problems else 'the broker lost the session'}",
                     "yellow")
        if alerts is not None:
            _say(console, f"alerts appended to {alerts}")
        if schedule_doc is not None:
            _say(console, f"rescheduling: {schedule_doc['repairs']} repair(s), plan makespan "
                          f"{schedule_doc['makespan']:,}; {schedule_doc['ignored']:,} station event(s) not usable"
                          + (f"; plan written to {schedule_doc['plan']}" if "plan" in schedule_doc else ""))
        if summary.checkpoint is not None:
            _say(console, f"checkpoint saved in {summary.checkpoint.parent} (run again with it to resume)")
        if summary.bad_lines:
            _say(console, f"{summary.bad_lines:,} line(s) were not JSON objects and were skipped, e.g. "
                          f"{summary.problems[0] if summary.problems else ''}", "yellow")
        for path in written:
            _say(console, f"wrote {path}")


from leanlearn.cli_pack import app as _pack_app  # noqa: E402  (its commands use the helpers above)
from leanlearn.cli_schedule import app as _schedule_app  # noqa: E402
from leanlearn.cli_twin import app as _twin_app  # noqa: E402
from leanlearn.cli_twin_calibrate import register as _register_twin_calibration  # noqa: E402
from leanlearn.cli_twin_rules import register as _register_twin_rules  # noqa: E402

app.add_typer(_pack_app, name="pack")
_register_twin_calibration(_twin_app)
_register_twin_rules(_twin_app)
app.add_typer(_twin_app, name="twin")
app.add_typer(_schedule_app, name="schedule")


def main() -> None:
    """Console-script entry point (``leanlearn``)."""
    app(prog_name="leanlearn")


if __name__ == "__main__":  # pragma: no cover
    main()  # exits through typer with the command's code
