""".venv/bin/python scripts/mitigation_ewc_table.py ID [ID ...]     # ids from `python -m engine mitigate list`

Markdown tables of stored EWC experiments, as in docs/mitigation.md: per arm and seed the held-out WERs with
their 95 % bootstrap CIs over speakers and n, the spread across regions and the forgetting check; then the
paired changes against no fine-tuning (arm − none on the same speakers, CIs from the within-region speaker
bootstrap); then each λ's mean and range over the seeds.
"""

from __future__ import annotations

import argparse

from engine import persistence
from engine.errors import UserError

GROUPS = (("targeted", "targeted"), ("untargeted", "untargeted"), ("overall", "overall"), ("general", "general"))
CHANGES = (
    ("targeted", "targeted", 100),
    ("untargeted", "untargeted", 100),
    ("overall", "overall", 100),
    ("mean_region_wer", "mean region", 100),
    ("max_region_wer", "max region", 100),
    ("var_region_wer", "variance ×10⁴", 1e4),
    ("general", "forgetting", 100),
)


def arm_name(arm: dict) -> str:
    if arm["arm"] == "none":
        return "no fine-tuning"
    lam = "plain (λ = 0)" if arm["arm"] == "finetune" else f"EWC λ = {arm['lambda']:g}"
    return f"{lam}, seed {arm['seed']}"


def block(b: dict) -> str:
    if b.get("wer") is None:
        return "–"
    return f"{100 * b['wer']:.2f} ({100 * b['ci_low']:.2f}–{100 * b['ci_high']:.2f}) {b['errors']}/{b['ref_words']}"


def change(c: dict | None, scale: float) -> str:
    if c is None:
        return "–"
    mark = "**" if c["ci_high"] < 0 or c["ci_low"] > 0 else ""
    return f"{mark}{scale * c['value']:+.2f}{mark} ({scale * c['ci_low']:+.2f}, {scale * c['ci_high']:+.2f})"


def tables(experiment_id: int) -> str:
    e = persistence.get_experiment(experiment_id)
    if e.kind != "ewc" or "seed_summary" not in e.results:
        raise UserError(f"Experiment {experiment_id} is not an EWC experiment on Whisper.")
    arms, r = e.results["arms"], e.results
    n = {name: arms[0][name]["n_speakers"] for name, _ in GROUPS}
    lines = [
        f"Experiment {e.id} (`{e.name}`): held-out speakers — targeted {n['targeted']}, untargeted "
        f"{n['untargeted']}, overall {n['overall']} in {len(arms[0]['regions'])} regions; general (forgetting) "
        f"{n['general']} LibriSpeech readers; {r['split']['n_train_utterances']} fine-tuning readings; "
        f"{r['model']['moving_weights']:,} moving weights ({r['model']['adapt']}); {r['seconds'] / 60:.0f} min.",
        "",
        "WER % (95 % CI over speakers) errors/words:",
        "",
        "| arm | targeted | untargeted | overall | mean / max region | variance across regions | general |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for a in arms:
        lines.append(
            f"| {arm_name(a)} | {block(a['targeted'])} | {block(a['untargeted'])} | {block(a['overall'])} | "
            f"{100 * a['mean_region_wer']:.2f} / {100 * a['max_region_wer']:.2f} | "
            f"{1e4 * a['var_region_wer']:.1f}e-4 | {block(a['general'])} |"
        )
    lines += [
        "",
        "Paired change against no fine-tuning, points (95 % CI); bold: the CI excludes 0:",
        "",
        "| arm | " + " | ".join(label for _, label, _ in CHANGES) + " |",
        "|---|" + "---:|" * len(CHANGES),
    ]
    for a in arms[1:]:
        lines.append(f"| {arm_name(a)} | " + " | ".join(change(a["changes"].get(k), s) for k, _, s in CHANGES) + " |")
    lines += [
        "",
        "Over the seeds: mean change (smallest, largest); seeds whose CI excludes 0:",
        "",
        "| λ | seeds | " + " | ".join(label for _, label, _ in CHANGES) + " |",
        "|---:|---:|" + "---:|" * len(CHANGES),
    ]
    for row in r["seed_summary"]:
        cells = []
        for key, _, scale in CHANGES:
            c = row.get(key)
            cells.append(
                "–"
                if c is None
                else f"{scale * c['mean']:+.2f} ({scale * c['min']:+.2f}, "
                f"{scale * c['max']:+.2f}); {c['ci_excludes_zero']}"
            )
        lines.append(f"| {row['lambda']:g} | {row['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", type=int, nargs="+")
    try:
        for experiment_id in parser.parse_args().ids:
            print(tables(experiment_id), end="\n\n")
    except UserError as exc:
        raise SystemExit(str(exc))


if __name__ == "__main__":
    main()
