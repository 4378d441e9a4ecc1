"""What the Mitigation page draws, built from stored experiment results (engine/mitigation schemas):
before/after region maps on one colour scale, the per-region table, the λ trade-off plot and the seeds' spread,
ARW's EER bars and its seeds, and the exact command that reruns an experiment. Stored experiments never change,
so what is built from one is cached by its id."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import streamlit as st

from engine import config, persistence
from engine.fairness import mapdata
from pages._fairness_shared import CompactDeck, boundaries_layer

TARGETED_LINE = [20, 20, 20, 255]
OTHER_LINE = [120, 120, 120, 160]


SEED_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")
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


def region_layer_table(arm: dict, low: float, high: float) -> pd.DataFrame:
    rows = arm["regions"]
    frame = pd.DataFrame(
        {
            "rank": [r["rank"] for r in rows],
            "polygon": [r["polygon"]["coordinates"][0] for r in rows],
            "wer": [r["wer"] for r in rows],
            "targeted": [r["targeted"] for r in rows],
        }
    )
    frame["colour"] = mapdata.colour_scale(frame["wer"].to_numpy(float), low, high, 170)
    frame["line"] = [TARGETED_LINE if t else OTHER_LINE for t in frame["targeted"]]
    frame["tooltip"] = [
        f"<b>Region {r['rank']}</b>{' ◎ targeted' if r['targeted'] else ''}<br/>WER {100 * r['wer']:.1f} % "
        f"(95 % CI {100 * r['ci_low']:.1f}–{100 * r['ci_high']:.1f})<br/>n = {r['n_speakers']} held-out speakers, "
        f"{r['ref_words']} words"
        for r in rows
    ]
    return frame


def region_deck(arm: dict, low: float, high: float) -> CompactDeck:
    """Regions coloured by held-out WER on the shared scale; targeted regions outlined in black."""
    table = region_layer_table(arm, low, high)
    view = mapdata.view_of([r["bounds"] for r in arm["regions"]])
    view["zoom"] = max(0.0, view["zoom"] - 1)  # two maps side by side: each is half as wide as view_of assumes
    return CompactDeck(
        layers=[
            boundaries_layer(),
            pdk.Layer(
                "PolygonLayer",
                table[["polygon", "colour", "line", "tooltip"]],
                id="regions",
                get_polygon="polygon",
                get_fill_color="colour",
                get_line_color="line",
                line_width_min_pixels=1.5,
                pickable=True,
                auto_highlight=True,
            ),
        ],
        initial_view_state=pdk.ViewState(**view),
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


def _legend_below(fig: go.Figure, height: int) -> go.Figure:
    """Legend in a row under the plot, so it never sits beneath the chart's toolbar (top right)."""
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0},
    )
    return fig


def tradeoff_figure(arms: list[dict]) -> go.Figure:
    """Targeted-group WER against overall WER on the held-out speakers: one colour per λ, one marker per seed
    (95 % CIs over speakers as error bars), no text on the points (labels are in the legend and on hover)."""
    fig = go.Figure()
    names = list(dict.fromkeys(lambda_name(a) for a in arms))
    for index, name in enumerate(names):
        group = [a for a in arms if lambda_name(a) == name and a["targeted"]["wer"] is not None]
        if not group:
            continue
        x = [100 * a["overall"]["wer"] for a in group]
        y = [100 * a["targeted"]["wer"] for a in group]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                name=name,
                marker={
                    "size": 11,
                    "color": "#555555" if name == "no fine-tuning" else LAMBDA_COLOURS[index % 7],
                    "symbol": [SEED_SYMBOLS[(a.get("seed") or 0) % len(SEED_SYMBOLS)] for a in group],
                    "line": {"width": 1, "color": "white"},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "thickness": 1,
                    "array": [100 * a["overall"]["ci_high"] - v for a, v in zip(group, x)],
                    "arrayminus": [v - 100 * a["overall"]["ci_low"] for a, v in zip(group, x)],
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "thickness": 1,
                    "array": [100 * a["targeted"]["ci_high"] - v for a, v in zip(group, y)],
                    "arrayminus": [v - 100 * a["targeted"]["ci_low"] for a, v in zip(group, y)],
                },
                customdata=[arm_label(a) for a in group],
                hovertemplate="%{customdata}<br>overall %{x:.2f} %<br>targeted %{y:.2f} %<extra></extra>",
            )
        )
    fig.update_layout(xaxis_title="Overall WER % on held-out speakers", yaxis_title="Targeted WER %")
    return _legend_below(fig, 420)


def seeds_figure(arms: list[dict]) -> go.Figure:
    """The paired change (arm − no fine-tuning, points) of the targeted WER and of the forgetting check, for
    every λ and seed, with each change's 95 % bootstrap CI: the seeds' spread beside the speakers' sampling."""
    fig = go.Figure()
    tuned = [a for a in arms if a.get("changes")]
    for key, name, colour, shift in (
        ("targeted", "targeted WER", "#2166ac", -0.12),
        ("general", "forgetting (general WER)", "#b2182b", 0.12),
    ):
        rows = [a for a in tuned if key in a["changes"]]
        lambdas = sorted({a["lambda"] for a in rows})
        x = [lambdas.index(a["lambda"]) + shift + 0.05 * ((a.get("seed") or 0) - 1) for a in rows]
        y = [100 * a["changes"][key]["value"] for a in rows]
        symbols = [SEED_SYMBOLS[(a.get("seed") or 0) % len(SEED_SYMBOLS)] for a in rows]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                name=name,
                marker={"size": 9, "color": colour, "symbol": symbols},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "thickness": 1,
                    "array": [100 * a["changes"][key]["ci_high"] - v for a, v in zip(rows, y)],
                    "arrayminus": [v - 100 * a["changes"][key]["ci_low"] for a, v in zip(rows, y)],
                },
                customdata=[arm_label(a) for a in rows],
                hovertemplate="%{customdata}<br>change %{y:+.2f} points<extra>" + name + "</extra>",
            )
        )
    lambdas = sorted({a["lambda"] for a in tuned})
    fig.add_hline(y=0, line={"color": "#999999", "width": 1})
    fig.update_layout(
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(len(lambdas))),
            "ticktext": [f"λ = {lam:g}" for lam in lambdas],
            "title": "EWC strength (seeds side by side)",
        },
        yaxis_title="Change vs no fine-tuning (points, 95 % CI)",
    )
    return _legend_below(fig, 380)


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


def arw_figure(results: dict) -> go.Figure:
    """EER by group, baseline beside ARW, with bootstrap CIs over speakers (an unscorable group has no bar)."""
    fig = go.Figure()
    for model, colour in zip(results["models"], ("#888888", "#4575b4", "#d73027")):
        groups = sorted(
            model["groups"],
            key=lambda g: (
                ARW_GROUP_KINDS.index(g["group_kind"]) if g["group_kind"] in ARW_GROUP_KINDS else 9,
                str(g["group"]),
            ),
        )
        eer = [_pct(g["eer"]) for g in groups]
        fig.add_trace(
            go.Bar(
                name=model["model"],
                x=[f"{g['group_kind']}: {g['group']}" for g in groups],
                y=eer,
                marker_color=colour,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [_pct(g["ci_high"]) - e for g, e in zip(groups, eer)],
                    "arrayminus": [e - _pct(g["ci_low"]) for g, e in zip(groups, eer)],
                },
                customdata=[g["n_speakers"] for g in groups],
                hovertemplate="%{x}<br>EER %{y:.1f} %<br>n = %{customdata} speakers<extra>"
                + model["model"]
                + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="EER % (95 % CI)",
        xaxis={"tickangle": -20},
    )
    return fig


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


def experiments_table(experiments: list[persistence.ExperimentInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "ID": e.id,
                "Kind": e.kind.upper(),
                "Name": e.name,
                "Evaluation set": e.set_name or "",
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
