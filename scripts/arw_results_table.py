"""Markdown results table (baseline vs ARW) of a stored ARW experiment, as in docs/arw.md.

    .venv/bin/python scripts/arw_results_table.py ID [ID ...]     # ids from `python -m engine mitigate list`
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import persistence  # noqa: E402


def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def with_ci(row: dict, key: str = "eer") -> str:
    return f"{pct(row[key])} [{pct(row['ci_low'])}, {pct(row['ci_high'])}]"


def table(experiment_id: int) -> str:
    e = persistence.get_experiment(experiment_id)
    baseline, arw = (next(m for m in e.results["models"] if m["model"] == name) for name in ("baseline", "arw"))
    lines = [f"Experiment {e.id} (`{e.name}`, seed {e.params['seed']}, {e.params['steps']} updates per model); "
             f"EER % [95 % bootstrap CI over speakers]", "",
             "| group | speakers | target / non-target trials | baseline EER % | ARW EER % |",
             "|---|---:|---:|---:|---:|"]
    arw_rows = {(g["group_kind"], g["group"]): g for g in arw["groups"]}
    for g in baseline["groups"]:
        label = "**overall**" if g["group_kind"] == "overall" else f"{g['group_kind']}: {g['group']}"
        arw_row = arw_rows[(g["group_kind"], g["group"])]
        lines.append(f"| {label} | {g['n_speakers']} | {g['n_target_trials']:,} / "
                     f"{g['n_nontarget_trials']:,} | {with_ci(g)} | {with_ci(arw_row)} |")
    lines.append(f"| **gender gap** \\|EER_f − EER_m\\| | | | {with_ci(baseline['gender_gap'], 'value')} | "
                 f"{with_ci(arw['gender_gap'], 'value')} |")
    lines.append(f"| (signed EER_f − EER_m) | | | {with_ci(baseline['gender_gap']['signed'], 'value')} | "
                 f"{with_ci(arw['gender_gap']['signed'], 'value')} |")
    lines.append(f"| **country spread** max − min ({len(baseline['country_spread']['groups'])} groups) | | | "
                 f"{with_ci(baseline['country_spread'], 'value')} | {with_ci(arw['country_spread'], 'value')} |")
    lines.append(f"| training (CPU s, final loss) | | | {baseline['training']['seconds']:.0f} s, "
                 f"{baseline['training']['loss_curve'][-1]:.3f} | {arw['training']['seconds']:.0f} s, "
                 f"{arw['training']['loss_curve'][-1]:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", type=int, nargs="+")
    for experiment_id in parser.parse_args().ids:
        print(table(experiment_id), end="\n\n")


if __name__ == "__main__":
    main()
