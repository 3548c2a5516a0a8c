"""The peer: dlt loads the same SAPI3 feed into the same kind of database, merging on `@id`.

Runs in the bench venv (`bench/.venv`, dlt from PyPI), never in the project's:
    bench/.venv/bin/python bench/peer_dlt.py --base-url URL --destination sqlite:///x.db
    bench/.venv/bin/python bench/peer_dlt.py --base-url URL --destination postgresql://…
Prints one JSON line: {"rows": N, "pages": P, "wall": s}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import dlt
import requests

LABELS = ("één taalicoon", "twee taaliconen", "drie taaliconen", "vier taaliconen")
WINDOW = 10000


def query(postal_codes: list[str]) -> str:
    labels = " OR ".join(f'"{label}"' for label in LABELS)
    return f"labels:({labels}) AND address.\\*.postalCode:({' OR '.join(postal_codes)})"


def pages(base_url: str, q: str, limit: int, client_id: str) -> Iterator[list[dict[str, Any]]]:
    """Offset paging inside the 10 000 window, then a new window from the last `modified`
    (inclusive: the boundary second is read twice and the merge on `@id` folds it)."""
    session = requests.Session()
    session.headers["x-client-id"] = client_id
    modified_from: str | None = None
    while True:
        start, last_modified = 0, None
        while True:
            params: dict[str, Any] = {
                "q": q, "embed": "true", "sort[modified]": "asc", "workflowStatus": "*",
                "availableFrom": "*", "availableTo": "*", "addressCountry": "*",
                "audienceType": "*", "start": start, "limit": limit,
            }
            if modified_from:
                params["modifiedFrom"] = modified_from
            response = session.get(f"{base_url}/events", params=params, timeout=60)
            response.raise_for_status()
            members = response.json()["member"]
            if members:
                yield members
                last_modified = members[-1]["modified"]
            if len(members) < limit:
                return
            start += len(members)
            if start + limit > WINDOW:
                break
        if last_modified is None or last_modified == modified_from:
            raise RuntimeError("a whole window shares one modified second")
        modified_from = last_modified


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--destination", required=True, help="SQLAlchemy URL (sqlite/postgres)")
    parser.add_argument("--postal-codes", required=True, help="comma separated")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--client-id", default="bench-client")
    args = parser.parse_args()

    q = query(args.postal_codes.split(","))
    counter = {"rows": 0, "pages": 0}

    @dlt.resource(name="events", primary_key="@id", write_disposition="merge")
    def events() -> Iterator[list[dict[str, Any]]]:
        for page in pages(args.base_url, q, args.limit, args.client_id):
            counter["rows"] += len(page)
            counter["pages"] += 1
            yield page

    if args.destination.startswith("sqlite"):
        destination = dlt.destinations.sqlalchemy(credentials=args.destination)
    else:
        url = args.destination.replace("postgresql+psycopg://", "postgresql://")
        if "@" in url and ":" not in url.split("://", 1)[1].split("@", 1)[0]:
            # dlt insists on a password; with trust auth any placeholder does.
            user, rest = url.split("://", 1)[1].split("@", 1)
            url = f"postgresql://{user}:trust@{rest}"
        destination = dlt.destinations.postgres(credentials=url)
    with tempfile.TemporaryDirectory(prefix="dlt-bench-") as pipelines_dir:
        pipeline = dlt.pipeline(pipeline_name="sapi3_bench", destination=destination,
                                dataset_name="sapi3", pipelines_dir=pipelines_dir,
                                progress=None)
        t0 = time.perf_counter()
        info = pipeline.run(events())
        wall = time.perf_counter() - t0
        if info.has_failed_jobs:
            print(json.dumps({"error": str(info)}), flush=True)
            return 1
    print(json.dumps({"rows": counter["rows"], "pages": counter["pages"], "wall": wall}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
