"""`python -m dashboard.serve [streamlit options]`: the dashboard's server, started warm.

Streamlit runs `app.py` only when a browser connects, so the first visitor of a fresh process
waited for every import and the boot (a second or more on a busy machine) on top of the browser
loading Streamlit itself. This does that work first, then hands over to `streamlit run app.py`
with the options given: `socialdesk dashboard` and `socialdesk run` start the dashboard this way.
A plain `streamlit run dashboard/app.py` still works; its first run starts the same imports in
the background (`state.warm_up`).

Two settings for speed: Streamlit's full garbage collection after every script run is off
(`runner.postScriptGC`: with pandas, Altair and our modules loaded it held the interpreter for
0.1-0.4 s after each click, delaying the messages to the browser; Python's own generational
collector still runs), and what the warm-up loaded is frozen out of the collector's way
(`collector.freeze_boot`), as it lives as long as the process.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def _before_the_server(record: logging.LogRecord) -> bool:
    """Streamlit warns "No runtime found" for cached functions used before its server runs: in
    this warm start that is expected, and no warning the operator should act on."""
    return "No runtime found" not in record.getMessage()


def warm() -> None:
    """Import what the entry script and every page import, and boot this process."""
    logging.getLogger("streamlit.runtime.caching.cache_data_api").addFilter(_before_the_server)
    from bot.platform import collector, runtime
    from bot.platform.settings import load_settings
    from dashboard import state

    state.warm_up_now(APP.parent)
    runtime.boot(load_settings())
    collector.freeze_boot()


def main() -> int:
    from streamlit.web import cli

    warm()
    sys.argv = ["streamlit", "run", str(APP), "--runner.postScriptGC=false", *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
