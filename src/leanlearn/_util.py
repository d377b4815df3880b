"""Small helpers every wing shares: redacting secrets, one-line error reasons, plain JSON values, UTC times.

This module sits at the bottom of the house: it imports nothing from leanlearn, so any module may import it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["as_utc", "first_line", "help_text", "json_plain", "read_json_file", "redact"]

#: Query-string / keyword names whose value is a secret (``?password=...``, ``password=... host=...``).
SECRET_KEYS = ("password", "passwd", "pwd", "pass", "secret", "token", "access_token", "api_key", "apikey")

_SCHEME_AUTHORITY = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>()\[\]{},]*)")
_SECRET_PARAM = re.compile(
    r"(?P<lead>(?:^|[?&;\s'\"(]))(?P<key>" + "|".join(SECRET_KEYS) + r")(?P<eq>\s*=\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^&\s'\",;)]*)",
    re.IGNORECASE,
)
MASK = "***"


def _redact_authority(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    at = rest.rfind("@")
    if at < 0:
        return match.group(0)
    colon = rest.find(":")
    if colon < 0 or colon > at or "/" in rest[:colon] or "@" in rest[:colon]:
        return match.group(0)  # user@host: nothing secret
    return f"{scheme}{rest[:colon]}:{MASK}{rest[at:]}"


def redact(text: Any, secrets: Iterable[str] = ()) -> str:
    """``text`` with every password in it replaced by ``***``: safe to print or put in an error message.

    Handles ``user:secret@host`` (also when the secret holds an unencoded ``@`` or ``/``: everything up to the last
    ``@`` of the address is hidden), ``?password=secret`` / ``&pwd=secret`` query parameters, libpq-style
    ``password=secret`` keywords, and any further ``secrets`` given (e.g. the password of the URL a driver's
    message is about). It errs on the side of hiding too much.

    Examples
    --------
    >>> redact("postgresql+psycopg://etl:s3cret@db.plant:5432/mes")
    'postgresql+psycopg://etl:***@db.plant:5432/mes'
    >>> redact("postgresql://etl:p@ss@db/mes and postgresql://db/mes?user=etl&password=s3cret&sslmode=require")
    'postgresql://etl:***@db/mes and postgresql://db/mes?user=etl&password=***&sslmode=require'
    >>> redact("cannot connect: host=db user=etl password=s3cret")
    'cannot connect: host=db user=etl password=***'
    >>> redact("sqlite:///data/mes.db")
    'sqlite:///data/mes.db'
    """
    out = str(text)
    out = _SCHEME_AUTHORITY.sub(_redact_authority, out)
    out = _SECRET_PARAM.sub(lambda m: f"{m.group('lead')}{m.group('key')}{m.group('eq')}{MASK}", out)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def first_line(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The first line of an exception's message (its ``message`` attribute if it has one), redacted; or its type.

    >>> first_line(ValueError("connection to postgresql://etl:s3cret@db failed\\nDETAIL: ..."))
    'connection to postgresql://etl:***@db failed'
    >>> first_line(KeyError())
    'KeyError'
    """
    text = str(getattr(exc, "message", None) or exc).strip()
    return redact(text.splitlines()[0], secrets) if text else type(exc).__name__


def json_plain(value: Any, *, keep_nonfinite: bool = False) -> Any:
    """``value`` with numpy and pandas scalars, tuples and timestamps made plain JSON values, recursively.

    Mappings get text keys, tuples and sets become lists, numpy scalars Python numbers, timestamps ISO 8601 text,
    and non-finite floats / missing values ``None`` (JSON has no NaN or infinity) — unless ``keep_nonfinite``,
    which keeps NaN and infinity as floats (for values that are not JSON yet, such as a rule's evidence).

    >>> import numpy as np, pandas as pd
    >>> json_plain({"n": np.int64(3), "cut": (np.float64(1.5), float("inf")), 1: pd.Timestamp("2024-03-01", tz="UTC")})
    {'n': 3, 'cut': [1.5, None], '1': '2024-03-01T00:00:00+00:00'}
    """
    if isinstance(value, dict):
        return {str(k): json_plain(v, keep_nonfinite=keep_nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_plain(v, keep_nonfinite=keep_nonfinite) for v in value]
    item = getattr(value, "item", None)  # numpy scalars (np.float64 is also a float: unwrap it first)
    if callable(item) and type(value).__module__ == "numpy":
        return json_plain(item(), keep_nonfinite=keep_nonfinite)
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if keep_nonfinite or math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date)):
        try:
            import pandas as pd

            if value is pd.NaT:
                return None
        except ImportError:  # pragma: no cover - pandas is a dependency
            pass
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def as_utc(values: Any) -> Any:
    """A pandas Series of times as ``datetime64[ns, UTC]``: aware ones converted, naive ones taken as UTC, text
    parsed as ISO 8601 (what does not parse becomes NaT).

    >>> import pandas as pd
    >>> as_utc(pd.Series(["2024-03-01T09:00+01:00", "soon"])).tolist()
    [Timestamp('2024-03-01 08:00:00+0000', tz='UTC'), NaT]
    """
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    return pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")


def write_text_atomic(path: str | Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a reader never sees half a file, and concurrent writers
    (threads, processes) each write their own uniquely named temporary file beside ``path``, then replace it.

    >>> out = write_text_atomic(getfixture("tmp_path") / "a" / "b.txt", "hello")
    >>> out.read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def help_text(doc: str | None) -> str:
    """A command's ``--help`` from its docstring: paragraphs joined into lines, ``\\b`` blocks (examples) kept.

    >>> help_text("Mine rules.\\n\\n    Long\\n    text.")
    'Mine rules.\\n\\nLong text.'
    """
    import inspect

    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def read_json_file(path: str | Path, max_bytes: int, error: type[Exception], what: str, hint: str = "") -> Any:
    """The JSON document in ``path``, read as data and at most ``max_bytes`` long; every problem is one ``error``.

    ``what`` names the document in the messages ("schedule", "rule pack"); ``hint`` ("; write one with ...")
    follows the messages a user fixes by making the file.

    >>> read_json_file("/nonexistent.json", 100, ValueError, "schedule", "; write one with 'solve --json'")
    Traceback (most recent call last):
    ...
    ValueError: /nonexistent.json: no such schedule file; write one with 'solve --json'
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such {what} file{hint}")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{path}: is larger than {max_bytes:,} bytes, too large for a {what}")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{path}: not a JSON {what} ({str(exc).splitlines()[0][:80]}){hint}") from None
