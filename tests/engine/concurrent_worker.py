"""Run by the concurrency tests in separate processes: fire or emit a planned list."""

from __future__ import annotations

import json
import sys

from crmflow import Engine


def main() -> None:
    db_url, workflows, plan_file, mode = sys.argv[1:5]
    factory = sys.argv[5] if len(sys.argv) > 5 else None
    plan = json.loads(open(plan_file).read())
    engine = Engine.open(
        db_url, workflows, factory, run_migrations=False, load_entry_points=False
    )
    taken = 0
    for item in plan:
        if mode == "vote":
            result = engine.fire(item["iid"], "approve", actor=item["actor"])
            taken += int(result.taken)
        elif mode == "fire":
            result = engine.fire(item["iid"], "bump", data={"n": item["key"]}, key=item["key"])
            taken += int(result.taken and not result.duplicate)
        else:
            result = engine.emit("part.requested", {"part": item["part"]})
            taken += len(result.started)
    engine.close()
    print(taken)


if __name__ == "__main__":
    main()
