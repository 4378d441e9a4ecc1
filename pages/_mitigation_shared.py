"""What the Mitigation page draws, built from stored experiment results (engine/mitigation schemas):
before/after region maps on one colour scale, the per-region table, the λ trade-off plot and the seeds' spread,
ARW's EER bars and its seeds, and the exact command that reruns an experiment. Stored experiments never change,
so what is built from one is cached by its id."""

from __future__ import annotations

import json
import shlex

import altair as alt
import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st

from engine import config, persistence
from engine.charts import svg
from engine.fairness import mapdata
from pages._fairness_shared import CompactDeck, basemap_layer, outline_layer

TARGETED_LINE = [20, 20, 20, 255]
OTHER_LINE = [120, 120, 120, 160]


LAMBDA_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")


def experiment(listed: persistence.ExperimentInfo) -> persistence.ExperimentInfo:
    """The listed experiment with its results. Stored experiments are never updated; ids can be reused after a
    delete or in another database, so the cache key is the database, the id and the creation time."""
    return _experiment(config.database_url(), listed.id, listed.created_at)


@st.cache_data(max_entries=32, show_spinner=False)
def _experiment(url: str, experiment_id: int, created_at) -> persistence.ExperimentInfo:
    return persistence.get_experiment(experiment_id, url)


def lambda_name(arm: dict) -> str:
    return (
        "no fine-tuning"
        if arm["arm"] == "none"
        else "plain fine-tuning (λ = 0)"
        if arm["arm"] == "finetune"
        else f"EWC λ = {arm['lambda']:g}"
    )


def arm_label(arm: dict) -> str:
    if arm["arm"] == "none":
        return "no fine-tuning"
    seed = f", seed {arm['seed']}" if arm.get("seed") is not None else ""
    return f"{lambda_name(arm)} ({arm['updates']} updates{seed})"


def shared_scale(arms: list[dict]) -> tuple[float, float]:
    """One (low, high) WER range over every region of every given arm, so colours compare across maps."""
    wer = [r["wer"] for arm in arms for r in arm["regions"] if r["wer"] is not None]
    return (min(wer), max(wer)) if wer else (0.0, 1.0)


MAP_VIEWS = ("Before", "After", "Change")


def region_layer_table(before: dict, after: dict, view: str, low: float, high: float) -> pd.DataFrame:
    """Region polygons coloured by the `view`'s held-out WER on the shared (low, high) scale, or, for
    "Change", by after − before on a diverging scale (blue: lower after, red: higher)."""
    pairs = list(zip(before["regions"], after["regions"]))
    frame = pd.DataFrame(
        {
            "rank": [b["rank"] for b, _ in pairs],
            "polygon": [b["polygon"]["coordinates"][0] for b, _ in pairs],
            "targeted": [b["targeted"] for b, _ in pairs],
        }
    )
    wer_before = np.array([b["wer"] for b, _ in pairs], float)
    wer_after = np.array([a["wer"] for _, a in pairs], float)
    if view == "Change":
        change = wer_after - wer_before
        frame["colour"] = mapdata.diverging_scale(change, float(np.nanmax(np.abs(change), initial=0.0)), 170)
    else:
        frame["colour"] = mapdata.colour_scale(wer_before if view == "Before" else wer_after, low, high, 170)
    frame["line"] = [TARGETED_LINE if t else OTHER_LINE for t in frame["targeted"]]
    frame["tooltip"] = [
        f"<b>Region {b['rank']}</b>{' ◎ targeted' if b['targeted'] else ''}<br/>before {100 * b['wer']:.1f} % "
        f"({_ci(b)}), after {100 * a['wer']:.1f} % ({_ci(a)})<br/>change {100 * (a['wer'] - b['wer']):+.1f} "
        f"points<br/>n = {b['n_speakers']} held-out speakers, {b['ref_words']} words"
        for b, a in pairs
    ]
    return frame


def region_deck(before: dict, after: dict, view: str, low: float, high: float) -> CompactDeck:
    """One map (a second WebGL map on the page cost a first visit ~3 s in headless Chromium on 2 cores):
    the regions in the chosen view; targeted regions outlined in black."""
    table = region_layer_table(before, after, view, low, high)
    return CompactDeck(
        layers=[
            basemap_layer(),
            pdk.Layer(
                "PolygonLayer",
                table[["polygon", "colour", "tooltip"]],
                id="regions",
                get_polygon="polygon",
                get_fill_color="colour",
                stroked=False,
                pickable=True,
                auto_highlight=True,
            ),
            outline_layer(mapdata.outline_table(table["polygon"].tolist(), table["line"].tolist()), "outlines", 1.5),
        ],
        initial_view_state=pdk.ViewState(**mapdata.view_of([r["bounds"] for r in before["regions"]])),
        map_style=None,
        tooltip={"html": "{tooltip}"},
    )


def _ci(block: dict) -> str:
    return "" if block.get("ci_low") is None else f"{100 * block['ci_low']:.1f}–{100 * block['ci_high']:.1f}"


def region_comparison(before: dict, after: dict) -> pd.DataFrame:
    rows = []
    for b, a in zip(before["regions"], after["regions"]):
        rows.append(
            {
                "Region": b["rank"],
                "Targeted": "◎" if b["targeted"] else "",
                "Before WER %": round(100 * b["wer"], 1),
                "Before 95 % CI": _ci(b),
                "After WER %": round(100 * a["wer"], 1),
                "After 95 % CI": _ci(a),
                "Change (points)": round(100 * (a["wer"] - b["wer"]), 1),
                "Held-out speakers": b["n_speakers"],
                "Words": b["ref_words"],
                "Errors before": b["errors"],
                "Errors after": a["errors"],
            }
        )
    return pd.DataFrame(rows)


def arms_summary(arms: list[dict]) -> pd.DataFrame:
    """One row per arm: the numbers the sweep is judged by, counts beside rates."""
    return pd.DataFrame(
        [
            {
                "Arm": arm_label(a),
                "Targeted WER %": None if a["targeted_wer"] is None else round(100 * a["targeted_wer"], 2),
                "Targeted 95 % CI": _ci(a["targeted"]),
                "Untargeted WER %": None if not a.get("untargeted") else round(100 * a["untargeted"]["wer"], 1),
                "Overall WER %": round(100 * a["overall"]["wer"], 2),
                "Overall 95 % CI": _ci(a["overall"]),
                "Mean region WER %": round(100 * a["mean_region_wer"], 2),
                "Max region WER %": round(100 * a["max_region_wer"], 2),
                "Variance across regions": round(a["var_region_wer"], 6),
                "General WER % (forgetting)": round(100 * a["general"]["wer"], 2),
                "General errors / words": f"{a['general']['errors']} / {a['general']['ref_words']}",
                "Overall errors / words": f"{a['overall']['errors']} / {a['overall']['ref_words']}",
            }
            for a in arms
        ]
    )


LEGEND_BELOW = alt.Legend(orient="bottom", direction="horizontal", columns=4, labelLimit=0)


def tradeoff_figure(arms: list[dict]) -> alt.LayerChart:
    """Targeted-group WER against overall WER on the held-out speakers: one colour per λ, one marker per seed
    (95 % CIs over speakers as error bars), no text on the points (labels are in the legend and on hover)."""
    names = list(dict.fromkeys(lambda_name(a) for a in arms))
    colours = [
        "#555555" if n == "no fine-tuning" else LAMBDA_COLOURS[i % len(LAMBDA_COLOURS)] for i, n in enumerate(names)
    ]
    frame = pd.DataFrame(
        [
            {
                "λ": lambda_name(a),
                "seed": "—" if a.get("seed") is None else str(a["seed"]),
                "arm": arm_label(a),
                "overall": 100 * a["overall"]["wer"],
                "overall_low": 100 * a["overall"]["ci_low"],
                "overall_high": 100 * a["overall"]["ci_high"],
                "targeted": 100 * a["targeted"]["wer"],
                "targeted_low": 100 * a["targeted"]["ci_low"],
                "targeted_high": 100 * a["targeted"]["ci_high"],
            }
            for a in arms
            if a["targeted"]["wer"] is not None
        ]
    )
    colour = alt.Color("λ:N", scale=alt.Scale(domain=names, range=colours), legend=LEGEND_BELOW, title=None)
    base = alt.Chart(frame).encode(colour)
    x = alt.X("overall:Q", scale=alt.Scale(zero=False), title="Overall WER % on held-out speakers")
    y = alt.Y("targeted:Q", scale=alt.Scale(zero=False), title="Targeted WER %")
    chart = alt.layer(
        base.mark_rule(strokeWidth=1).encode(alt.X("overall_low:Q"), alt.X2("overall_high:Q"), alt.Y("targeted:Q")),
        base.mark_rule(strokeWidth=1).encode(alt.X("overall:Q"), alt.Y("targeted_low:Q"), alt.Y2("targeted_high:Q")),
        base.mark_point(size=110, filled=True, stroke="white", strokeWidth=1, opacity=1).encode(
            x,
            y,
            alt.Shape("seed:N", legend=alt.Legend(orient="bottom", title="seed")),
            tooltip=[
                alt.Tooltip("arm:N", title="arm"),
                alt.Tooltip("overall:Q", title="overall WER %", format=".2f"),
                alt.Tooltip("targeted:Q", title="targeted WER %", format=".2f"),
            ],
        ),
    )
    return svg(chart.properties(height=420))


def seeds_figure(arms: list[dict]) -> alt.LayerChart:
    """The paired change (arm − no fine-tuning, points) of the targeted WER and of the forgetting check, for
    every λ and seed, with each change's 95 % bootstrap CI: the seeds' spread beside the speakers' sampling."""
    tuned = [a for a in arms if a.get("changes")]
    lambdas = [f"λ = {lam:g}" for lam in sorted({a["lambda"] for a in tuned})]
    measures = {"targeted": "targeted WER", "general": "forgetting (general WER)"}
    frame = pd.DataFrame(
        [
            {
                "λ": f"λ = {a['lambda']:g}",
                "measure": name,
                "seed": "—" if a.get("seed") is None else str(a["seed"]),
                "slot": f"{name} {a.get('seed')}",
                "arm": arm_label(a),
                "change": 100 * a["changes"][key]["value"],
                "low": 100 * a["changes"][key]["ci_low"],
                "high": 100 * a["changes"][key]["ci_high"],
            }
            for key, name in measures.items()
            for a in tuned
            if key in a["changes"]
        ]
    )
    x = alt.X("λ:N", sort=lambdas, title="EWC strength (seeds side by side)", axis=alt.Axis(labelAngle=0))
    colour = alt.Color(
        "measure:N",
        scale=alt.Scale(domain=list(measures.values()), range=["#2166ac", "#b2182b"]),
        legend=LEGEND_BELOW,
        title=None,
    )
    base = alt.Chart(frame).encode(x, alt.XOffset("slot:N"), colour)
    chart = alt.layer(
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#999999").encode(y="zero:Q"),
        base.mark_rule(strokeWidth=1).encode(alt.Y("low:Q"), alt.Y2("high:Q")),
        base.mark_point(size=80, filled=True, opacity=1).encode(
            alt.Y("change:Q", title="Change vs no fine-tuning (points, 95 % CI)"),
            alt.Shape("seed:N", legend=alt.Legend(orient="bottom", title="seed")),
            tooltip=[
                alt.Tooltip("arm:N", title="arm"),
                alt.Tooltip("measure:N", title="measure"),
                alt.Tooltip("change:Q", title="change (points)", format="+.2f"),
            ],
        ),
    )
    return svg(chart.properties(height=380))


def changes_table(arms: list[dict]) -> pd.DataFrame:
    """One row per fine-tuned arm: each paired change with its CI (points; variance in WER² × 10⁴)."""
    rows = []
    for a in arms:
        changes = a.get("changes")
        if not changes:
            continue
        row = {"Arm": arm_label(a)}
        for key, label, scale in (
            ("targeted", "Targeted", 100),
            ("untargeted", "Untargeted", 100),
            ("overall", "Overall", 100),
            ("mean_region_wer", "Mean across regions", 100),
            ("max_region_wer", "Max region", 100),
            ("var_region_wer", "Variance ×10⁴", 1e4),
            ("general", "Forgetting (general)", 100),
        ):
            c = changes.get(key)
            row[label] = (
                ""
                if c is None
                else f"{scale * c['value']:+.2f} ({scale * c['ci_low']:+.2f} to {scale * c['ci_high']:+.2f})"
            )
        rows.append(row)
    return pd.DataFrame(rows)


ARW_GROUP_KINDS = ("overall", "sex", "country_group")


def _pct(value) -> float:
    """A stored fraction as a percentage; null (a stratum too small to score, stored as JSON null) as NaN."""
    return float("nan") if value is None else 100 * value


def arw_figure(results: dict) -> alt.LayerChart:
    """EER by group, baseline beside ARW, with bootstrap CIs over speakers (an unscorable group has no bar)."""
    models = [m["model"] for m in results["models"]]
    rows = [
        {
            "model": model["model"],
            "group": f"{g['group_kind']}: {g['group']}",
            "order": (
                ARW_GROUP_KINDS.index(g["group_kind"]) if g["group_kind"] in ARW_GROUP_KINDS else 9,
                str(g["group"]),
            ),
            "eer": _pct(g["eer"]),
            "low": _pct(g["ci_low"]),
            "high": _pct(g["ci_high"]),
            "speakers": g["n_speakers"],
        }
        for model in results["models"]
        for g in model["groups"]
    ]
    groups = [r["group"] for r in sorted(rows, key=lambda r: r["order"])]
    frame = pd.DataFrame(rows).drop(columns="order")
    x = alt.X("group:N", sort=list(dict.fromkeys(groups)), title=None, axis=alt.Axis(labelAngle=-20, labelLimit=0))
    colour = alt.Color(
        "model:N",
        scale=alt.Scale(domain=models, range=["#888888", "#4575b4", "#d73027"][: len(models)]),
        legend=LEGEND_BELOW,
        title=None,
    )
    base = alt.Chart(frame).encode(x, alt.XOffset("model:N", sort=models), colour)
    chart = alt.layer(
        base.mark_bar().encode(
            alt.Y("eer:Q", title="EER % (95 % CI)"),
            tooltip=[
                alt.Tooltip("model:N"),
                alt.Tooltip("group:N"),
                alt.Tooltip("eer:Q", title="EER %", format=".1f"),
                alt.Tooltip("speakers:Q", title="n speakers"),
            ],
        ),
        base.mark_rule(color="#333333").encode(alt.Y("low:Q"), alt.Y2("high:Q")),
    )
    return svg(chart.properties(height=360))


def arw_gaps(results: dict) -> pd.DataFrame:
    rows = []
    for model in results["models"]:
        for key, label in (("gender_gap", "Gender gap (EER points)"), ("country_spread", "Spread across countries")):
            gap = model.get(key) or {}
            if gap.get("value") is not None:
                rows.append(
                    {
                        "Model": model["model"],
                        "Measure": label,
                        "Value": round(_pct(gap["value"]), 2),
                        "95 % CI": f"{_pct(gap['ci_low']):.2f}–{_pct(gap['ci_high']):.2f}",
                    }
                )
    return pd.DataFrame(rows)


def evaluation_set_label(experiment: persistence.ExperimentInfo) -> str:
    """The experiment's evaluation set. The shipped EWC experiments ran on a set the demo database does not
    hold (scripts/mitigation_whisper_set.py builds it), so they are linked to none: their parameters name it."""
    if experiment.set_name:
        return experiment.set_name
    name = experiment.params.get("eval_set")
    return f"{name} (not in this database)" if name else ""


def experiments_table(experiments: list[persistence.ExperimentInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "ID": e.id,
                "Kind": e.kind.upper(),
                "Name": e.name,
                "Evaluation set": evaluation_set_label(e),
                "Created": e.created_at.strftime("%Y-%m-%d %H:%M"),
                "Parameters": json.dumps(e.params, ensure_ascii=False),
            }
            for e in experiments
        ]
    )


def ewc_command(params: dict) -> str:
    """The `mitigate ewc` command line that gives these parameters (n_boot has no flag: it stays default)."""
    regions = params["regions"] if params["regions"] == "flagged" else ",".join(map(str, params["regions"]))
    parts = [
        "python",
        "-m",
        "engine",
        "mitigate",
        "ewc",
        "--eval-set",
        params["eval_set"],
        "--target",
        params.get("target", "regions"),
        "--regions",
        regions,
        "--text-split",
        params.get("text_split", "none"),
        "--adapt",
        params.get("adapt", "decoder"),
        "--lambda",
        *[f"{lam:g}" for lam in params["lambdas"]],
        "--seeds",
        *[str(seed) for seed in params.get("seeds", [params.get("seed", 0)])],
    ]
    for key in (
        "split_seed",
        "train_speakers_per_region",
        "heldout_speakers_per_region",
        "updates",
        "batch_utterances",
        "lr",
        "fisher_utterances",
        "general_utterances",
    ):
        if key in params:
            value = params[key]
            parts += [f"--{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    if params.get("name"):
        parts += ["--name", params["name"]]
    return " ".join(shlex.quote(p) for p in parts)


def arw_seeds_table(experiments: list[persistence.ExperimentInfo]) -> pd.DataFrame:
    """Every stored ARW experiment's models side by side (one row per experiment and model): the seeds' spread."""
    rows = []
    for e in experiments:
        for model in experiment(e).results["models"]:
            overall = next((g for g in model["groups"] if g["group_kind"] == "overall"), None)
            gap, spread = model.get("gender_gap") or {}, model.get("country_spread") or {}
            rows.append(
                {
                    "Experiment": e.id,
                    "Seed": e.params.get("seed"),
                    "Steps": e.params.get("steps"),
                    "Adversary lr": e.params.get("adversary_lr"),
                    "Model": model["model"],
                    "Overall EER %": None if overall is None else round(_pct(overall["eer"]), 2),
                    "Gender gap (points)": None if gap.get("value") is None else round(_pct(gap["value"]), 2),
                    "Country spread (points)": None if spread.get("value") is None else round(_pct(spread["value"]), 2),
                }
            )
    return pd.DataFrame(rows)
