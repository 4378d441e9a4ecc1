"""What the Mitigation page draws, built from stored experiment results (engine/mitigation schemas):
before/after region maps on one colour scale, the per-region table, the λ trade-off plot, ARW's EER bars,
and the exact command that reruns an experiment."""
from __future__ import annotations

import json
import shlex

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

from engine import persistence
from engine.fairness import mapdata
from pages._fairness_shared import CompactDeck

TARGETED_LINE = [20, 20, 20, 255]
OTHER_LINE = [120, 120, 120, 160]


def arm_label(arm: dict) -> str:
    if arm["arm"] == "none":
        return "no fine-tuning"
    if arm["arm"] == "finetune":
        return f"plain fine-tuning (λ = 0, {arm['updates']} updates)"
    return f"EWC λ = {arm['lambda']:g} ({arm['updates']} updates)"


def shared_scale(arms: list[dict]) -> tuple[float, float]:
    """One (low, high) WER range over every region of every given arm, so colours compare across maps."""
    wer = [r["wer"] for arm in arms for r in arm["regions"] if r["wer"] is not None]
    return (min(wer), max(wer)) if wer else (0.0, 1.0)


def region_layer_table(arm: dict, low: float, high: float) -> pd.DataFrame:
    rows = arm["regions"]
    frame = pd.DataFrame({
        "rank": [r["rank"] for r in rows], "polygon": [r["polygon"]["coordinates"][0] for r in rows],
        "wer": [r["wer"] for r in rows], "targeted": [r["targeted"] for r in rows],
    })
    frame["colour"] = mapdata.colour_scale(frame["wer"].to_numpy(float), low, high, 170)
    frame["line"] = [TARGETED_LINE if t else OTHER_LINE for t in frame["targeted"]]
    frame["tooltip"] = [
        f"<b>Region {r['rank']}</b>{' ◎ targeted' if r['targeted'] else ''}<br/>WER {100 * r['wer']:.1f} % "
        f"(95 % CI {100 * r['ci_low']:.1f}–{100 * r['ci_high']:.1f})<br/>n = {r['n_speakers']} held-out speakers, "
        f"{r['ref_words']} words" for r in rows]
    return frame


def region_deck(arm: dict, low: float, high: float) -> CompactDeck:
    """Regions coloured by held-out WER on the shared scale; targeted regions outlined in black."""
    table = region_layer_table(arm, low, high)
    view = mapdata.view_of([r["bounds"] for r in arm["regions"]])
    view["zoom"] = max(0.0, view["zoom"] - 1)  # two maps side by side: each is half as wide as view_of assumes
    return CompactDeck(
        layers=[
            pdk.Layer("GeoJsonLayer", mapdata.boundaries(), id="boundaries", stroked=True, filled=True,
                      get_fill_color=[235, 235, 228, 255], get_line_color=[150, 150, 150, 255],
                      line_width_min_pixels=0.6),
            pdk.Layer("PolygonLayer", table[["polygon", "colour", "line", "tooltip"]], id="regions",
                      get_polygon="polygon", get_fill_color="colour", get_line_color="line",
                      line_width_min_pixels=1.5, pickable=True, auto_highlight=True),
        ],
        initial_view_state=pdk.ViewState(**view),
        map_style=None, tooltip={"html": "{tooltip}"},
    )


def _ci(block: dict) -> str:
    return f"{100 * block['ci_low']:.1f}–{100 * block['ci_high']:.1f}"


def region_comparison(before: dict, after: dict) -> pd.DataFrame:
    rows = []
    for b, a in zip(before["regions"], after["regions"]):
        rows.append({"Region": b["rank"], "Targeted": "◎" if b["targeted"] else "",
                     "Before WER %": round(100 * b["wer"], 1), "Before 95 % CI": _ci(b),
                     "After WER %": round(100 * a["wer"], 1), "After 95 % CI": _ci(a),
                     "Change (points)": round(100 * (a["wer"] - b["wer"]), 1),
                     "Held-out speakers": b["n_speakers"], "Words": b["ref_words"],
                     "Errors before": b["errors"], "Errors after": a["errors"]})
    return pd.DataFrame(rows)


def arms_summary(arms: list[dict]) -> pd.DataFrame:
    """One row per arm: the numbers the sweep is judged by, counts beside rates."""
    return pd.DataFrame([{
        "Arm": arm_label(a), "Targeted WER %": round(100 * a["targeted_wer"], 1),
        "Targeted 95 % CI": _ci(a["targeted"]),
        "Untargeted WER %": None if not a.get("untargeted") else round(100 * a["untargeted"]["wer"], 1),
        "Overall WER %": round(100 * a["overall"]["wer"], 1), "Overall 95 % CI": _ci(a["overall"]),
        "Mean region WER %": round(100 * a["mean_region_wer"], 1), "Max region WER %": round(100 * a["max_region_wer"], 1),
        "Variance across regions": round(a["var_region_wer"], 5),
        "General WER % (forgetting)": round(100 * a["general"]["wer"], 1),
        "General errors / words": f"{a['general']['errors']} / {a['general']['ref_words']}",
        "Overall errors / words": f"{a['overall']['errors']} / {a['overall']['ref_words']}",
    } for a in arms])


def tradeoff_figure(arms: list[dict]) -> go.Figure:
    """Targeted-region WER against overall WER, one point per arm (95 % CIs over speakers as error bars)."""
    x = [100 * a["overall"]["wer"] for a in arms]
    y = [100 * a["targeted_wer"] for a in arms]
    labels = ["none" if a["arm"] == "none" else f"λ={a['lambda']:g}" for a in arms]
    fig = go.Figure(go.Scatter(
        x=x, y=y, mode="lines+markers+text", text=labels, textposition="top center",
        marker={"size": 10, "color": ["#888888" if a["arm"] == "none" else "#4575b4" for a in arms]},
        line={"color": "#bbbbbb", "dash": "dot"},
        error_x={"type": "data", "symmetric": False,
                 "array": [100 * a["overall"]["ci_high"] - v for a, v in zip(arms, x)],
                 "arrayminus": [v - 100 * a["overall"]["ci_low"] for a, v in zip(arms, x)], "thickness": 1},
        error_y={"type": "data", "symmetric": False,
                 "array": [100 * a["targeted"]["ci_high"] - v for a, v in zip(arms, y)],
                 "arrayminus": [v - 100 * a["targeted"]["ci_low"] for a, v in zip(arms, y)], "thickness": 1},
        customdata=[arm_label(a) for a in arms],
        hovertemplate="%{customdata}<br>overall %{x:.1f} %<br>targeted %{y:.1f} %<extra></extra>"))
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis_title="Overall WER % on held-out speakers", yaxis_title="Targeted-region WER %")
    return fig


ARW_GROUP_KINDS = ("overall", "sex", "country_group")


def _pct(value) -> float:
    """A stored fraction as a percentage; null (a stratum too small to score, stored as JSON null) as NaN."""
    return float("nan") if value is None else 100 * value


def arw_figure(results: dict) -> go.Figure:
    """EER by group, baseline beside ARW, with bootstrap CIs over speakers (an unscorable group has no bar)."""
    fig = go.Figure()
    for model, colour in zip(results["models"], ("#888888", "#4575b4", "#d73027")):
        groups = sorted(model["groups"], key=lambda g: (ARW_GROUP_KINDS.index(g["group_kind"])
                                                        if g["group_kind"] in ARW_GROUP_KINDS else 9, str(g["group"])))
        eer = [_pct(g["eer"]) for g in groups]
        fig.add_trace(go.Bar(
            name=model["model"], x=[f"{g['group_kind']}: {g['group']}" for g in groups], y=eer, marker_color=colour,
            error_y={"type": "data", "symmetric": False, "array": [_pct(g["ci_high"]) - e for g, e in zip(groups, eer)],
                     "arrayminus": [e - _pct(g["ci_low"]) for g, e in zip(groups, eer)]},
            customdata=[g["n_speakers"] for g in groups],
            hovertemplate="%{x}<br>EER %{y:.1f} %<br>n = %{customdata} speakers<extra>" + model["model"] + "</extra>"))
    fig.update_layout(barmode="group", height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title="EER % (95 % CI)", xaxis={"tickangle": -20})
    return fig


def arw_gaps(results: dict) -> pd.DataFrame:
    rows = []
    for model in results["models"]:
        for key, label in (("gender_gap", "Gender gap (EER points)"), ("country_spread", "Spread across countries")):
            gap = model.get(key) or {}
            if gap.get("value") is not None:
                rows.append({"Model": model["model"], "Measure": label, "Value": round(_pct(gap["value"]), 2),
                             "95 % CI": f"{_pct(gap['ci_low']):.2f}–{_pct(gap['ci_high']):.2f}"})
    return pd.DataFrame(rows)


def experiments_table(experiments: list[persistence.ExperimentInfo]) -> pd.DataFrame:
    return pd.DataFrame([{"ID": e.id, "Kind": e.kind.upper(), "Name": e.name, "Evaluation set": e.set_name or "",
                          "Created": e.created_at.strftime("%Y-%m-%d %H:%M"),
                          "Parameters": json.dumps(e.params, ensure_ascii=False)} for e in experiments])


def ewc_command(params: dict) -> str:
    """The `mitigate ewc` command line that gives these parameters (n_boot has no flag: it stays default)."""
    regions = params["regions"] if params["regions"] == "flagged" else ",".join(map(str, params["regions"]))
    parts = ["python", "-m", "engine", "mitigate", "ewc", "--eval-set", params["eval_set"], "--regions", regions,
             "--text-split", params.get("text_split", "none"),
             "--lambda", *[f"{lam:g}" for lam in params["lambdas"]], "--checkpoint", params["checkpoint"]]
    for key in ("train_speakers_per_region", "heldout_speakers_per_region", "updates", "batch_utterances", "lr",
                "max_train_seconds", "fisher_utterances", "general_utterances", "seed"):
        parts += [f"--{key.replace('_', '-')}", f"{params[key]:g}" if isinstance(params[key], float) else str(params[key])]
    if params.get("name"):
        parts += ["--name", params["name"]]
    return " ".join(shlex.quote(p) for p in parts)
