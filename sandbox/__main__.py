"""Run the sandbox alone: `python -m sandbox --port 8100 --app-secret X --webhook-url URL`."""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.app import create_sandbox_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--app-secret", required=True, help="signs webhooks (X-Hub-Signature-256)")
    parser.add_argument("--webhook-url", default=None, help="where webhooks are POSTed")
    parser.add_argument(
        "--path-prefix", default="", help='serve every route under this prefix, e.g. "/sandbox"'
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    app = create_sandbox_app(args.app_secret, args.webhook_url, path_prefix=args.path_prefix)
    # One worker only: the sandbox's world lives in this process's memory.
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, workers=1)


if __name__ == "__main__":
    main()
