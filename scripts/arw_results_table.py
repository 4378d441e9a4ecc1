"""Markdown results tables (baseline vs ARW vs ARW on crop clusters) of stored ARW experiments, as in docs/arw.md.

.venv/bin/python scripts/arw_results_table.py ID [ID ...]     # ids from `python -m engine mitigate list`
"""

from __future__ import annotations

import argparse

from engine import persistence


def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def with_ci(row: dict, key: str = "eer") -> str:
    return f"{pct(row[key])} [{pct(row['ci_low'])}, {pct(row['ci_high'])}]"


MODEL_NAMES = {"baseline": "baseline", "arw": "ARW", "arw_cluster": "ARW (crop clusters)"}


def table(experiment_id: int) -> str:
    e = persistence.get_experiment(experiment_id)
    models = e.results["models"]
    names = [MODEL_NAMES.get(m["model"], m["model"]) for m in models]
    lines = [
        f"Experiment {e.id} (`{e.name}`, seed {e.params['seed']}, {e.params['steps']} updates per model); "
        f"EER % [95 % bootstrap CI over speakers]",
        "",
        "| group | speakers | target / non-target trials | " + " | ".join(f"{n} EER %" for n in names) + " |",
        "|---|---:|---:|" + "---:|" * len(models),
    ]
    rows = [{(g["group_kind"], g["group"]): g for g in m["groups"]} for m in models]
    for g in models[0]["groups"]:
        label = "**overall**" if g["group_kind"] == "overall" else f"{g['group_kind']}: {g['group']}"
        cells = " | ".join(with_ci(r[(g["group_kind"], g["group"])]) for r in rows)
        trials = f"{g['n_target_trials']:,} / {g['n_nontarget_trials']:,}"
        lines.append(f"| {label} | {g['n_speakers']} | {trials} | {cells} |")
    lines.append(
        "| **gender gap** \\|EER_f − EER_m\\| | | | "
        + " | ".join(with_ci(m["gender_gap"], "value") for m in models)
        + " |"
    )
    lines.append(
        "| (signed EER_f − EER_m) | | | "
        + " | ".join(with_ci(m["gender_gap"]["signed"], "value") for m in models)
        + " |"
    )
    lines.append(
        f"| **country spread** max − min ({len(models[0]['country_spread']['groups'])} groups) | | | "
        + " | ".join(with_ci(m["country_spread"], "value") for m in models)
        + " |"
    )
    lines.append(
        "| training (CPU s, final loss) | | | "
        + " | ".join(f"{m['training']['seconds']:.0f} s, {m['training']['loss_curve'][-1]:.3f}" for m in models)
        + " |"
    )
    return "\n".join(lines)


def seeds_table(experiment_ids: list[int]) -> str:
    """One row per experiment (seed): each model's overall EER, gender gap and country spread."""
    experiments = [persistence.get_experiment(i) for i in experiment_ids]
    models = list(dict.fromkeys(m["model"] for e in experiments for m in e.results["models"]))
    lines = [
        "| experiment | seed | "
        + " | ".join(f"{MODEL_NAMES.get(m, m)}: overall / gap / spread" for m in models)
        + " |",
        "|---:|---:|" + "---:|" * len(models),
    ]
    for e in experiments:
        by_name = {m["model"]: m for m in e.results["models"]}
        cells = []
        for name in models:
            m = by_name.get(name)
            overall = None if m is None else next(g for g in m["groups"] if g["group_kind"] == "overall")
            cells.append(
                "–"
                if m is None
                else f"{pct(overall['eer'])} / {pct(m['gender_gap']['value'])} / {pct(m['country_spread']['value'])}"
            )
        lines.append(f"| {e.id} | {e.params['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", type=int, nargs="+")
    ids = parser.parse_args().ids
    for experiment_id in ids:
        print(table(experiment_id), end="\n\n")
    if len(ids) > 1:
        print(seeds_table(ids))


if __name__ == "__main__":
    main()
