"""The engineers' review app: a Streamlit page over the MLflow registry (``leanlearn review``).

:func:`serve` starts ``streamlit run`` on :mod:`leanlearn.review.app` bound to ``127.0.0.1`` by default. The app lists
the registered rule packs and versions of a tracking URI, shows a card per rule (its sentence, the evidence with its
interval, the review record) and records every approve / reject / comment through
:func:`leanlearn.packs.registry.review_rule` — the registry's version tags stay the single source of truth, so a
decision survives a restart and is visible through ``MlflowClient``. Streamlit is imported only by the app script
(``import leanlearn.review`` does not import it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from leanlearn.errors import RegistryError

__all__ = ["APP", "TRACKING_ENV", "serve", "streamlit_command"]

#: The Streamlit script of the review app.
APP = Path(__file__).with_name("app.py")
#: Environment variable through which :func:`serve` tells the app which tracking URI to read.
TRACKING_ENV = "LEANLEARN_REVIEW_TRACKING_URI"


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The ``streamlit run`` command line that serves the app (headless, no usage statistics, no file watcher).

    >>> streamlit_command(port=8600)[-1]
    '8600'
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.address", host,
        "--server.port", str(port),
    ]


def serve(host: str = "127.0.0.1", port: int = 8501, tracking_uri: str | None = None) -> int:
    """Run the review app until it is stopped (Ctrl+C); returns Streamlit's exit code.

    Parameters
    ----------
    host : str, default="127.0.0.1"
        Address to bind; the default keeps the app on this machine (pass ``0.0.0.0`` to share it on the network —
        the app has no login: whoever reaches it can record decisions under any name).
    port : int, default=8501
    tracking_uri : str, optional
        The MLflow tracking/registry URI to review; default :func:`leanlearn.packs.registry.default_tracking_uri`.
    """
    import importlib.util

    from leanlearn.packs.registry import default_tracking_uri

    if importlib.util.find_spec("streamlit") is None:
        raise RegistryError("the review app needs Streamlit, which is not installed: pip install streamlit")
    if not 0 < port < 65536:
        raise RegistryError(f"port {port} is not a TCP port; pick one between 1 and 65535, e.g. --port 8501")
    env = dict(os.environ)
    env[TRACKING_ENV] = tracking_uri or default_tracking_uri()
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        return subprocess.call(streamlit_command(host, port), env=env)
    except KeyboardInterrupt:
        return 0
