"""Training the Whisper-based SST, stage by stage, from one recipe (engine/sst/recipes/*.json):

    python -m engine train --recipe engine/sst/recipes/sidecar.json [--stop-after N]

Each stage builds (or reuses) its pools of cached lower-encoder states, starts from the previous stage's
result, trains the parts it names for `updates` updates with a tqdm bar, validates on a dev-voice pool and
writes `DIR/<stage>/state.pt` every `checkpoint_every` updates, so a killed run resumes where it stopped
(the window order depends only on the seed and the update number). Runs on CUDA unchanged when present.

Run folder (default data/sst/runs/<recipe name>):  <stage>/state.pt, <stage>/final.pt, <stage>/best.pt
(the update with the lowest dev loss), <stage>/curves.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine import config
from engine.sst.batch import make_batch
from engine.sst.network import SST, build
from engine.sst.objective import LossWeights, objective
from engine.sst.package import load_package, save_package
from engine.sst.pool import PoolSpec, build_pool, load_pool
from engine.sst.settings import SSTSettings

PARTS = {
    "separator": ("transcriber.separator",),
    "activity": ("activity",),
    "transducer": ("frames", "predictor", "joiner"),
    "upper": ("transcriber.adapted",),  # the SST's copy of Whisper's upper blocks (settings.adapt_upper)
}


@dataclass
class Stage:
    name: str
    updates: int
    pools: list[PoolSpec]
    dev_pool: PoolSpec
    train: tuple[str, ...] = ("separator", "activity", "transducer")
    weights: LossWeights = field(default_factory=LossWeights)
    lr: float = 1e-3
    warmup: int = 20
    batch_windows: int = 2
    validate_every: int = 50
    checkpoint_every: int = 10
    seed: int = 0

    @classmethod
    def from_json(cls, data: dict) -> "Stage":
        data = dict(data)
        data["pools"] = [PoolSpec(**p) for p in data["pools"]]
        data["dev_pool"] = PoolSpec(**data["dev_pool"])
        data["train"] = tuple(data.get("train", cls.train))
        data["weights"] = LossWeights(**data.get("weights", {}))
        unknown = set(data["train"]) - set(PARTS)
        if unknown:
            raise ValueError(f"a stage trains some of {', '.join(PARTS)}, not {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Recipe:
    name: str
    settings: SSTSettings
    stages: list[Stage]

    @classmethod
    def load(cls, path: Path) -> "Recipe":
        data = json.loads(Path(path).read_text())
        settings = SSTSettings.from_json(data.get("settings", {}))
        stages = [Stage.from_json(s) for s in data["stages"]]
        missing = {"separator": not settings.separator, "upper": not settings.adapt_upper}
        for stage in stages:  # refused before any pool is built, not after
            absent = [part for part in stage.train if missing.get(part)]
            if absent:
                raise ValueError(f"stage {stage.name!r} trains {', '.join(absent)}, which these settings leave out")
        return cls(data["name"], settings, stages)


def pool_dir(spec: PoolSpec) -> Path:
    return (
        config.data_dir()
        / "sst"
        / "pools"
        / f"{spec.source}-{spec.voices}-{spec.window_s:g}s-after{spec.split_after}-seed{spec.seed}-{spec.windows}"
    )


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def learning_rate(stage: Stage, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < stage.warmup:
        return stage.lr * (step + 1) / stage.warmup
    progress = (step - stage.warmup) / max(1, stage.updates - stage.warmup)
    return stage.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def trainable(model: SST, parts: tuple[str, ...]) -> list[torch.nn.Parameter]:
    prefixes = tuple(p for part in parts for p in PARTS[part])
    chosen = []
    for name, parameter in model.named_parameters():
        wanted = name.startswith(prefixes)
        if name.startswith("transcriber.whisper."):
            continue  # the shared Whisper stays frozen
        parameter.requires_grad_(wanted)
        if wanted:
            chosen.append(parameter)
    return chosen


@torch.no_grad()
def validate(model: SST, windows, stage: Stage) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    for i in range(0, len(windows), stage.batch_windows):
        batch = make_batch(windows[i : i + stage.batch_windows], model.settings.channels, model.settings.subsample).to(
            device()
        )
        for key, value in objective(model, batch, stage.weights).items():
            sums[key] = sums.get(key, 0.0) + float(value)
    batches = math.ceil(len(windows) / stage.batch_windows)
    return {key: value / batches for key, value in sums.items()}


def _save_state(path: Path, model: SST, optimizer, step: int, best: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"trained": model.trained_state(), "optimizer": optimizer.state_dict(), "step": step, "best": best}, tmp)
    os.replace(tmp, path)


def _log(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def run_stage(recipe: Recipe, stage: Stage, out: Path, previous: Path | None, stop_after: int | None = None) -> Path:
    """Train one stage (resuming its state.pt); returns its final.pt (or state so far when stopped early)."""
    folder = out / stage.name
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "final.pt"
    if final.exists():
        return final
    if previous is not None:
        model, _ = load_package(previous, device())
    else:
        torch.manual_seed(stage.seed)  # the same recipe starts from the same weights
        model = build(recipe.settings).to(device())
    if stage.updates == 0:  # a stage that only fixes the configuration (the separator-off baseline)
        return save_package(final, model, _card(recipe, stage, 0, None))
    for spec in stage.pools + [stage.dev_pool]:
        build_pool(pool_dir(spec), spec, model.transcriber)
    pools = [w for spec in stage.pools for w in load_pool(pool_dir(spec))[1]]
    dev = load_pool(pool_dir(stage.dev_pool))[1]
    parameters = trainable(model, stage.train)
    optimizer = torch.optim.AdamW(parameters, lr=stage.lr, weight_decay=0.01)
    state_path, curves = folder / "state.pt", folder / "curves.jsonl"
    step, best = 0, float("inf")
    if state_path.exists():
        state = torch.load(state_path, map_location=device(), weights_only=True)
        model.load_trained_state(state["trained"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        if curves.exists():  # rows logged after the last saved state are redone: drop them
            rows = [r for r in curves.read_text().splitlines() if json.loads(r)["step"] <= step]
            curves.write_text("".join(r + "\n" for r in rows))
    done_here = 0
    bar = tqdm(total=stage.updates, initial=step, desc=f"{recipe.name}/{stage.name}", unit="update")
    while step < stage.updates and (stop_after is None or done_here < stop_after):
        model.train()
        rng = np.random.default_rng([stage.seed, step])
        windows = [pools[i] for i in rng.choice(len(pools), stage.batch_windows, replace=False)]
        batch = make_batch(windows, model.settings.channels, model.settings.subsample).to(device())
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(stage, step)
        started = time.perf_counter()
        parts = objective(model, batch, stage.weights)
        optimizer.zero_grad(set_to_none=True)
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        step += 1
        done_here += 1
        row = {
            "step": step,
            "seconds": round(time.perf_counter() - started, 2),
            **{k: round(float(v), 4) for k, v in parts.items()},
        }
        if step % stage.validate_every == 0 or step == stage.updates:
            scores = validate(model, dev, stage)
            row["dev"] = {k: round(v, 4) for k, v in scores.items()}
            if scores["total"] < best:
                best = scores["total"]
                save_package(folder / "best.pt", model, _card(recipe, stage, step, scores))
        _log(curves, row)
        bar.set_postfix(loss=f"{row['total']:.3f}", dec=f"{row['decoder']:.3f}")
        bar.update()
        if step % stage.checkpoint_every == 0 or step == stage.updates:
            _save_state(state_path, model, optimizer, step, best)
    bar.close()
    _save_state(state_path, model, optimizer, step, best)
    if step >= stage.updates:
        save_package(final, model, _card(recipe, stage, step, None))
        return final
    return state_path


def _card(recipe: Recipe, stage: Stage, step: int, dev: dict | None) -> dict:
    return {
        "recipe": recipe.name,
        "stage": stage.name,
        "step": step,
        "dev_losses": dev,
        "stage_config": json.loads(json.dumps(asdict(stage))),
        "stages_before": [s.name for s in recipe.stages[: recipe.stages.index(stage)]],
    }


def train(recipe_path: Path, out: Path | None = None, stop_after: int | None = None) -> Path:
    """Run every stage of the recipe in order (each resumes or is skipped when done); the last final.pt."""
    recipe = Recipe.load(recipe_path)
    out = out or config.data_dir() / "sst" / "runs" / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(Path(recipe_path).read_text())
    previous = None
    for stage in recipe.stages:
        result = run_stage(recipe, stage, out, previous, stop_after)
        if result.name != "final.pt":
            return result
        previous = result
    return previous
