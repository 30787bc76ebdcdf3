"""bench/inbox: the inbox's first page, a filtered page and a search over a large PostgreSQL inbox.

    python -m bench.inbox [--conversations 100000] [--messages 1000000] [--repeat 30]

Seeds a database of its own with `--conversations` conversations (each with a contact; 5 % snoozed,
80 % given to one of 4 teams, the bench user a member of two) and
`--messages` messages spread over them (SQL `generate_series`, a minute or two at full size), with
the schema and indexes of the migrations (0006 adds the inbox's), then times the REST API's
`GET /api/v1/conversations` over HTTP from a separate process: query plus rendering plus the
socket. Target: under 300 ms each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import (
    free_port,
    machine,
    memory_table,
    ms,
    postgres_database,
    processes,
    redis_server,
    socialdesk_env,
    table,
    wait_http,
)

WORDS = ["hello", "hi", "price", "shipping", "size", "color", "blue", "red", "jacket", "shoes", "order", "delivery",
         "thanks", "please", "when", "where", "available", "stock", "discount", "coupon", "link", "return",
         "exchange", "store", "open", "today", "tomorrow", "week", "love", "great", "question", "help", "cancel",
         "payment", "card", "cash", "invoice", "address", "city", "call", "phone", "email", "photo", "video"]
SEARCH = "refund"  # in about 0.5 % of the messages
RUNS = {
    "first page": "",
    "filtered page (open, messenger)": "?status=open&kind=messenger",
    "one connected account (of 2)": "?channel_id=2",
    "snoozed (5 %)": "?status=snoozed",
    "one team (of 4)": "?team_id=1",
    "snoozed, one team": "?status=snoozed&team_id=4",
    "my teams (2 of 4), open": "?my_teams=true&status=open",
    f"search '{SEARCH}'": f"?search={SEARCH}",
}

FILLERS = {"integer": "0", "bigint": "0", "boolean": "false", "text": "''", "character varying": "''",
           "jsonb": "'null'", "json": "'null'", "bytea": "''", "real": "0", "double precision": "0"}


def insert_sql(cur, table_name: str, given: dict[str, str], source: str) -> str:  # noqa: ANN001 - a cursor
    """INSERT ... SELECT with `given` column expressions, filling any other NOT NULL column that
    has no default (later migrations may add some) with a neutral value of its type."""
    cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                "AND is_nullable = 'NO' AND column_default IS NULL", (table_name,))
    columns = dict(given)
    for name, data_type in cur.fetchall():
        columns.setdefault(name, FILLERS.get(data_type, "''"))
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table_name}" ({names}) SELECT {", ".join(columns.values())} FROM {source}'


def seed(pg: str, conversations: int, messages: int) -> float:
    import psycopg2

    started = time.monotonic()
    words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
    now = int(time.time() * 1000)
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(insert_sql(cur, "channel", {
            "platform": "CASE WHEN g = 1 THEN 'facebook' ELSE 'instagram' END", "account_id": "g::text",
            "page_id": "'1'", "name": "'Bench ' || g", "receive_messages": "true", "receive_comments": "true",
            "notifications": "true", "emails": "false", "human_agent": "false", "health_status": "'healthy'",
            "is_active": "true", "created_at": str(now)}, "generate_series(1, 2) g"))
        cur.execute(insert_sql(cur, "contact", {
            "name": f"initcap({words}[1 + g % 40]) || ' ' || initcap({words}[1 + (g / 40) % 40]) || ' ' || g",
            "created_at": str(now), "updated_at": str(now)}, f"generate_series(1, {conversations}) g"))
        cur.execute(insert_sql(cur, "team", {"name": "'Team ' || g", "created_at": str(now),
                                             "updated_at": str(now)}, "generate_series(1, 4) g"))
        kinds = "(ARRAY['messenger','instagram','facebook_comments','instagram_comments'])[1 + g % 4]"
        cur.execute(insert_sql(cur, "conversation", {
            "thread_key": "'bench:' || g", "kind": kinds, "channel_id": "1 + g % 2", "contact_id": "g",
            "status": "CASE WHEN g % 10 < 7 THEN 'open' WHEN g % 20 = 7 THEN 'snoozed' ELSE 'closed' END",
            "unread_count": "g % 3",
            "last_message_at": f"{now} - g * 1000", "last_customer_message_at": f"{now} - g * 1000",
            "preview": f"{words}[1 + g % 40] || ' ' || {words}[1 + g % 37]", "created_at": f"{now} - g * 1000",
            "team_id": "CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + g % 4 END"},
            f"generate_series(1, {conversations}) g"))
        text = (f"CASE WHEN g % 200 = 7 THEN 'I would like a {SEARCH} please' ELSE "
                f"{words}[1 + g % 40] || ' ' || {words}[1 + (g / 7) % 40] || ' ' || {words}[1 + (g / 13) % 40] "
                f"|| ' ' || {words}[1 + (g / 31) % 40] || ' #' || g END")
        cur.execute(insert_sql(cur, "message", {
            "channel_id": "1", "conversation_id": f"1 + g % {conversations}",
            "direction": "CASE WHEN g % 3 = 0 THEN 'out' ELSE 'in' END",
            "author": "CASE WHEN g % 3 = 0 THEN 'staff' ELSE 'customer' END", "kind": "'message'",
            "mid": "'m_bench_' || g", "text": text, "occurred_at": f"{now} - g * 100", "status": "'received'",
            "hidden": "false", "by_account": "false", "attempts": "0", "created_at": f"{now} - g * 100"},
            f"generate_series(1, {messages}) g"))
    conn = psycopg2.connect(pg)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return time.monotonic() - started


def join_teams(pg: str, email: str, team_ids: list[int]) -> None:
    """The bench user in some teams, for the inbox's "my teams" filter."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        for team_id in team_ids:
            cur.execute('INSERT INTO team_member (team_id, user_id) SELECT %s, id FROM "user" WHERE email = %s',
                        (team_id, email))


TIMER = r"""
import json, sys, time, httpx
url, token, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
    for label, query in json.loads(sys.stdin.read()).items():
        client.get(url + query).raise_for_status()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url + query)
            response.raise_for_status()
            times.append(time.perf_counter() - started)
        times.sort()
        body = response.json()
        out[label] = {"p50": times[len(times) // 2] * 1000, "p99": times[min(len(times) - 1, int(len(times) * .99))]
                      * 1000, "max": times[-1] * 1000, "total": body["total"], "items": len(body["items"]),
                      "bytes": len(response.content)}
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description="inbox query benchmark")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with postgres_database("socialdesk_bench_inbox") as pg, redis_server() as redis, processes() as running:
        port = free_port()
        env = socialdesk_env(pg, redis, SOCIALDESK_API_PORT=str(port))
        subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
        seconds = seed(pg, args.conversations, args.messages)
        subprocess.run([sys.executable, "-m", "bot.cli", "user", "add", "bench@example.com", "--role", "admin"],
                       env=env, check=True, capture_output=True, input="bench password 123\n", text=True)
        join_teams(pg, "bench@example.com", [1, 3])
        token = subprocess.run([sys.executable, "-m", "bot.cli", "token", "create", "--user", "bench@example.com",
                                "--name", "bench"], env=env, check=True, capture_output=True,
                               text=True).stdout.split()[-1]
        api = running.socialdesk("api", ["api", "--workers", "2"], env)
        # not /health: it is 503 while no worker consumes, and this bench runs the API alone
        wait_http(f"http://127.0.0.1:{port}/schema", process=api, timeout=240)
        timed = subprocess.run([sys.executable, "-c", TIMER, f"http://127.0.0.1:{port}/api/v1/conversations",
                                token, str(args.repeat)], input=json.dumps(RUNS), capture_output=True, text=True,
                               check=True, timeout=600)
        results = json.loads(timed.stdout)
        memory = memory_table(running)
    rows = [[label, ms(r["p50"]), ms(r["p99"]), ms(r["max"]), str(r["total"]), str(r["items"]), str(r["bytes"]),
             "yes" if r["p99"] < 300 else "NO"] for label, r in results.items()]
    print(f"\nbench/inbox on {machine()}; {args.conversations:,} conversations, {args.messages:,} messages "
          f"(seeded in {seconds:.0f} s); API: 2 uvicorn processes; {args.repeat} requests each over HTTP")
    print(table("Inbox (GET /api/v1/conversations, 25 per page)",
                ["query", "p50 ms", "p99 ms", "max ms", "total", "items", "bytes", "< 300 ms"], rows))
    print(memory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
