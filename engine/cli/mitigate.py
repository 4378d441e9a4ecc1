"""python -m engine mitigate ewc|arw|list|rerun — mitigation experiments, stored in the database.

    python -m engine mitigate ewc --eval-set NAME --regions flagged --lambda L [...]
    python -m engine mitigate arw [...]
    python -m engine mitigate list
    python -m engine mitigate rerun ID      # the same experiment again, from its stored parameters

The database is the one CROSSTALK_DATABASE_URL names (default: SQLite under the data directory).
"""

from __future__ import annotations

import importlib
import json

from engine.mitigation import EXPERIMENT_MODULES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "mitigate", help="mitigation experiments (EWC, ARW)", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="mitigate_command", required=True)
    for kind, module_name in EXPERIMENT_MODULES.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(kind, help=module.__doc__.splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(func=lambda args, module=module: _run(module, module.params_from_args(args)))

    p = sub.add_parser("list", help="stored experiments, newest first")
    p.set_defaults(func=run_list)

    p = sub.add_parser("rerun", help="run a stored experiment again from its parameters")
    p.add_argument("id", type=int)
    p.set_defaults(func=run_rerun)


def _run(module, params: dict) -> int:
    experiment_id = module.run(params)
    print(f"experiment {experiment_id} stored")
    return 0


def run_list(args) -> int:
    from engine import persistence

    for e in persistence.list_experiments():
        print(f"{e.id:>4}  {e.kind:<4} {e.created_at:%Y-%m-%d %H:%M}  {e.name}  {json.dumps(e.params)}")
    return 0


def run_rerun(args) -> int:
    from engine import persistence

    stored = persistence.get_experiment(args.id)
    return _run(importlib.import_module(EXPERIMENT_MODULES[stored.kind]), stored.params)
