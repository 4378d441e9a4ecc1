"""Curriculum training of the SST model, resumable after a kill:  python -m engine train --config CONFIG.json

The output folder holds `last.pt` (model, optimizer, step: what a resumed run continues from), `best.pt`
(the shipping format of engine/sst/checkpoint.py, best dev ORC-WER so far), `curves.csv` (one row per
update), `validation.jsonl` (one record per epoch) and `curves.html` (the plot). Batches are drawn from
a random generator seeded by (batch seed, step), so a resumed run trains on the batches it would have seen.
"""
from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from engine.sst.augment import SpecAugment
from engine.sst.checkpoint import save_model
from engine.sst.config import SSTConfig
from engine.sst.data import MixingSpec, Pool, collate, make_batch, make_example, manifest_pool, tts_pool
from engine.sst.features import Fbank
from engine.sst.loss import LossWeights, sst_loss
from engine.sst.model import SSTModel
from engine.sst.tokens import TokenTable
from engine.sst.validate import score


@dataclass
class Stage:
    name: str
    updates: int
    mixing: MixingSpec = field(default_factory=MixingSpec)
    loss: LossWeights = field(default_factory=LossWeights)
    copy_branch: bool = False  # copy separator branch 0 into the others when the stage starts
    spec_augment: SpecAugment = field(default_factory=SpecAugment)


@dataclass
class TrainConfig:
    out_dir: str
    stages: list[Stage]
    model: dict = field(default_factory=dict)  # SSTConfig overrides
    # data: {"source": "tts", "pool_size", "voices", "dev_pool_size", "dev_voices"} or
    #       {"source": "manifest", "train": path, "dev": path}
    data: dict = field(default_factory=lambda: {"source": "tts", "pool_size": 4000, "voices": 500,
                                                "dev_pool_size": 200, "dev_voices": 25})
    dev_mixtures: dict = field(default_factory=lambda: {"single": 8, "meeting": 8, "overlap": 8})
    batch_seconds: float = 60.0
    lr: float = 1e-3
    warmup: int = 150
    # Cosine decay from lr to lr * final_lr_ratio over the run (1.0 keeps it constant): continuation runs at
    # a constant 1e-3 flattened within 100 updates, with dev scores jumping around the plateau.
    final_lr_ratio: float = 1.0
    clip: float = 5.0
    epoch_updates: int = 200
    checkpoint_updates: int = 50
    seed: int = 0
    # Seed of the batches' generator (default: seed). `seed` also picks the training pool and the dev mixtures,
    # so a continuation over the same pool and dev mixtures draws batches its predecessor has not seen with
    # another batch_seed.
    batch_seed: int | None = None
    threads: int = 2
    device: str = "cpu"
    # A shipped checkpoint (engine/sst/checkpoint.py format, same model sizes) that a new run starts from,
    # feature statistics included: continuing a model in a new run folder, e.g. on another machine. The
    # recipe's model may add residual layers (SSTConfig.residual_*): they start as the identity.
    init_from: str | None = None
    # Modules (SSTModel attribute names) re-initialised after init_from: e.g. the prediction network and
    # joint of a model whose encoder has learnt to align (its CTC head reads the audio) while the transducer
    # output is still a language-model prior (DESIGN.md section 7's plateau), so a fresh joint meets an
    # informative encoder.
    reinit: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        stages = [Stage(s["name"], s["updates"], MixingSpec(**s.get("mixing", {})), LossWeights(**s.get("loss", {})),
                        s.get("copy_branch", False), SpecAugment(**s.get("spec_augment", {})))
                  for s in values["stages"]]
        return cls(**{**values, "stages": stages})

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def stage_at(self, step: int) -> tuple[int, Stage]:
        """(first step of the stage, stage) for a global update index."""
        begin = 0
        for stage in self.stages:
            if step < begin + stage.updates:
                return begin, stage
            begin += stage.updates
        return begin - self.stages[-1].updates, self.stages[-1]

    @property
    def total_updates(self) -> int:
        return sum(s.updates for s in self.stages)


DEV_SPECS = {"single": MixingSpec(kind="single"), "meeting": MixingSpec(kind="meeting"),
             "overlap": MixingSpec(kind="meeting", overlap_prob=1.0, max_overlap=0.4)}


def build_pools(cfg: TrainConfig, train: bool = True) -> tuple[Pool | None, Pool]:
    """(train pool, dev pool); with train=False only the dev pool is built (scoring, ablations)."""
    data = cfg.data
    if data["source"] == "manifest":
        return manifest_pool(Path(data["train"]), 16000) if train else None, manifest_pool(Path(data["dev"]), 16000)
    total = data["dev_pool_size"] + (data["pool_size"] if train else 0)
    bar = tqdm(total=total, desc="synthesising utterances", unit="utt")

    def tick(done, total):
        bar.update(1)

    train_pool = tts_pool("train", data["pool_size"], data["voices"], cfg.seed, tick) if train else None
    dev = tts_pool("dev", data["dev_pool_size"], data["dev_voices"], cfg.seed + 1, tick)
    bar.close()
    return train_pool, dev


def dev_examples(cfg: TrainConfig, pool: Pool, sample_rate: int) -> dict:
    rng = random.Random(cfg.seed + 12345)
    return {kind: [make_example(pool, DEV_SPECS[kind], rng, sample_rate) for _ in range(count)]
            for kind, count in cfg.dev_mixtures.items()}


def feature_statistics(pool: Pool, fbank: Fbank, count: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """Global mean/std of log-mel over (a sample of) the training utterances with a little noise, as
    training mixtures always carry noise."""
    feats = []
    for utt in pool.utterances[:count]:
        audio = torch.from_numpy(utt.audio.astype("float32") / 32767)
        feats.append(fbank((audio + 1e-3 * torch.randn_like(audio))[None])[0])
    feats = torch.cat(feats)
    return feats.mean(0), feats.std(0).clamp_min(1e-3)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def write_plot(out: Path) -> None:
    """curves.html: training loss per update and dev ORC-WER per epoch (self-contained, no network)."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    curves = pd.read_csv(out / "curves.csv")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "dev ORC-WER"))
    for column in ("total", "rnnt", "ctc"):
        if column in curves:
            fig.add_trace(go.Scatter(x=curves["step"], y=curves[column].rolling(20, min_periods=1).mean(),
                                     name=column), row=1, col=1)
    if (out / "validation.jsonl").exists():
        records = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines() if line]
        for kind in records[-1]["dev"] if records else []:
            fig.add_trace(go.Scatter(x=[r["step"] for r in records], y=[r["dev"][kind]["orc_wer"] for r in records],
                                     name=f"dev {kind}", mode="lines+markers"), row=1, col=2)
    fig.write_html(out / "curves.html", include_plotlyjs=True)


def train(cfg: TrainConfig, stop_after: int | None = None) -> Path:
    """Run (or resume) training; `stop_after` ends after that many updates in this call (tests)."""
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    table = TokenTable()
    model_config = SSTConfig.from_dict({**cfg.model, "vocab_size": len(table)})
    model = SSTModel(model_config).to(cfg.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    fbank = Fbank(model_config)
    train_pool, dev_pool = build_pools(cfg)
    dev = dev_examples(cfg, dev_pool, model_config.sample_rate)
    step, best = 0, {}
    if (out / "last.pt").exists():
        saved = torch.load(out / "last.pt", map_location=cfg.device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, best = saved["step"], saved["best"]
        _forget_after(out, step)
        print(f"resuming from update {step}", flush=True)
    elif cfg.init_from:
        from engine.sst.checkpoint import load_model

        initial, _, initial_card = load_model(Path(cfg.init_from))
        grown = _load_growing(model, initial.state_dict())
        _record_lineage(out, cfg.init_from, initial_card)
        for name in cfg.reinit:
            for module in getattr(model, name).modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
        print(f"starting from the weights of {cfg.init_from}"
              + (f", {', '.join(cfg.reinit)} re-initialised" if cfg.reinit else "")
              + (f", {grown:,} parameters of new residual layers" if grown else ""), flush=True)
    else:
        mean, std = feature_statistics(train_pool, fbank)
        model.feat_mean.copy_(mean)
        model.feat_std.copy_(std)
    end = cfg.total_updates if stop_after is None else min(cfg.total_updates, step + stop_after)
    bar = tqdm(total=cfg.total_updates, initial=step, desc="training", unit="update")
    started = time.time()
    while step < end:
        stage_begin, stage = cfg.stage_at(step)
        if step == stage_begin and stage.copy_branch:
            model.copy_branch(0)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        rng = random.Random((cfg.seed if cfg.batch_seed is None else cfg.batch_seed) * 1_000_003 + step)
        batch = collate(make_batch(train_pool, stage.mixing, rng, cfg.batch_seconds, model_config.sample_rate),
                        table, model_config, fbank)
        batch["feats"] = stage.spec_augment.apply(batch["feats"], model.feat_mean.cpu(), rng)
        model.train()
        encoded, predicted, activity, ctc = model(batch["feats"].to(cfg.device), batch["targets"].long().to(cfg.device))
        device_batch = {k: v.to(cfg.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        parts = sst_loss(model.join, encoded, predicted, activity, ctc, device_batch, stage.loss,
                         model_config.frame_seconds, table.eot, sot=table.sot)
        optimizer.zero_grad()
        parts["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        if torch.isfinite(grad_norm):  # skip the rare non-finite batch instead of poisoning the weights
            optimizer.step()
        step += 1
        row = {"step": step, "stage": stage.name, **{k: round(float(v.detach()), 4) for k, v in parts.items()},
               "grad_norm": round(float(grad_norm), 3), "lr": optimizer.param_groups[0]["lr"],
               "audio_s": round(batch["audio_seconds"], 1), "wall_s": round(time.time() - started, 1)}
        _append_csv(out / "curves.csv", row)
        bar.update(1)
        bar.set_postfix(stage=stage.name, loss=f"{row['total']:.2f}")
        if step % cfg.epoch_updates == 0 or step == cfg.total_updates:
            best = _validate(model, table, dev, out, step, stage, best)
        if step % cfg.checkpoint_updates == 0 or step == end:
            _save_training_state(out, model, optimizer, step, best)
    bar.close()
    write_plot(out)
    return out


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to cfg.lr * cfg.final_lr_ratio at the last update."""
    progress = step / max(1, cfg.total_updates - 1)
    decay = cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup) * decay


def _forget_after(out: Path, step: int) -> None:
    """Drop curve rows and validation records a killed run wrote after its last checkpoint: the resumed
    run recomputes those updates, and the curves should show each update once."""
    curves = out / "curves.csv"
    if curves.exists():
        with curves.open() as f:
            rows = [row for row in csv.DictReader(f) if int(row["step"]) <= step]
        curves.unlink()
        for row in rows:
            _append_csv(curves, row)
    records = out / "validation.jsonl"
    if records.exists():
        kept = [line for line in records.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        records.write_text("".join(line + "\n" for line in kept))


def _load_growing(model: SSTModel, weights: dict) -> int:
    """Load a smaller checkpoint into `model`; only residual layers may be missing from it (they start as the
    identity, so the grown model computes what the checkpoint did). Returns the number of new parameters."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    foreign = ([k for k in weights if k not in own or weights[k].shape != own[k].shape]
               + [k for k in missing if "residual" not in k])
    if foreign:
        raise ValueError(f"init_from does not fit the recipe's model sizes: {', '.join(foreign[:5])}")
    model.load_state_dict(weights, strict=False)
    return sum(own[k].numel() for k in missing)


def _record_lineage(out: Path, init_from: str, card: dict) -> None:
    """Keep in the run folder how many updates lie behind the starting weights (init.json): init_from may be
    the shipped file that this run's export later replaces, so cards must not re-read it."""
    updates_before = card.get("total_updates", card.get("step", 0))
    (out / "init.json").write_text(json.dumps({"init_from": init_from, "updates_before": updates_before}))


def _save_training_state(out: Path, model, optimizer, step: int, best: dict) -> None:
    tmp = out / "last.pt.tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "best": best}, tmp)
    tmp.replace(out / "last.pt")  # a kill during the write leaves the previous checkpoint intact


CARD_CURVE_ROWS = 400


def model_card_data(out: Path, step: int, stage: str, dev: dict, selected: str) -> dict:
    """What a shipped checkpoint says about its training: data, recipe, curves, dev scores."""
    with (out / "curves.csv").open() as f:
        rows = list(csv.DictReader(f))
    keep = rows[::max(1, len(rows) // CARD_CURVE_ROWS)]
    curves = [{k: (v if k == "stage" else float(v)) for k, v in row.items()} for row in keep]
    validation = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines() if line] \
        if (out / "validation.jsonl").exists() else []
    lineage = json.loads((out / "init.json").read_text()) if (out / "init.json").exists() else {}
    return {"step": step, "total_updates": lineage.get("updates_before", 0) + step, "stage": stage, "dev": dev,
            "selected_on": selected, "curves": curves,
            "validation": validation,
            "train_config": json.loads((out / "config.json").read_text())}


def export_model(cfg: TrainConfig, dest: Path, voice_change_threshold: float | None, source: str = "best.pt",
                 note: str = "") -> dict:
    """Write the shipping checkpoint `dest` from a run's checkpoint, with card data refreshed from the
    run folder (curves and validations up to now), the training-data description, `note`, and the
    voice-change threshold chosen for this model on the dev set (None: its turns are not split)."""
    from engine.sst.checkpoint import load_model

    out = Path(cfg.out_dir)
    model, table, card = load_model(out / source)
    fresh = model_card_data(out, card["step"], card["stage"], card["dev"], card["selected_on"])
    fresh["validation"] = [r for r in fresh["validation"] if r["step"] <= card["step"]]
    fresh["curves"] = [r for r in fresh["curves"] if r["step"] <= card["step"]]
    fresh["training_data"] = training_data_description(cfg)
    fresh["quality_note"] = note
    fresh["voice_change_threshold"] = voice_change_threshold
    save_model(Path(dest), model, table, fresh)
    return fresh


def training_data_description(cfg: TrainConfig) -> str:
    """One sentence for the card: the utterance pool, how this run's stages mixed it, and any augmentation."""
    data = cfg.data
    if data["source"] != "tts":
        return f"manifest {data.get('train')}"
    meetings = [s.mixing for s in cfg.stages if s.mixing.kind == "meeting"]
    talkers = max((m.speakers[1] for m in meetings), default=2)
    augment = [name for name, used in (
        ("speed perturbation", any(tuple(s.mixing.speed) != (1.0, 1.0) for s in cfg.stages)),
        ("frequency masking", any(s.spec_augment.freq_masks for s in cfg.stages))) if used]
    talkers_text = "two" if talkers == 2 else f"2-{talkers}"
    return (f"{data.get('pool_size')} espeak-ng/mbrola utterances of {data.get('voices')} train-split voices reading "
            "train-split fortunes sentences (engine/simulate), mixed on the fly into single-talker examples and "
            f"meetings of {talkers_text} talkers with gaps or overlap, level differences and white noise at "
            "10-30 dB SNR" + (f"; {' and '.join(augment)}" if augment else ""))


def _validate(model, table, dev: dict, out: Path, step: int, stage: Stage, best: dict) -> dict:
    model.eval()
    # A stage without the transducer is scored through the CTC head: its transducer has not been trained.
    search = "transducer" if stage.loss.rnnt_weight else "ctc"
    results = {kind: score(model, table, examples, search=search) for kind, examples in dev.items()}
    with (out / "validation.jsonl").open("a") as f:
        f.write(json.dumps({"step": step, "stage": stage.name, "search": search, "dev": results}) + "\n")
    # Model selection on the dev condition that the current stage trains for.
    selected = "single" if stage.mixing.kind == "single" else ("overlap" if stage.mixing.overlap_prob else "meeting")
    selected = selected if selected in results else next(iter(results))
    current = results[selected]["orc_wer"]
    card = model_card_data(out, step, stage.name, results, selected)
    save_model(out / f"model-{step:06d}.pt", model, table, card)
    # Best per condition and search: a later stage trains a harder condition, so its first model starts a new
    # best, and a CTC-scored model never becomes the best.pt that the transducer decodes.
    key = selected if search == "transducer" else f"{selected}/{search}"
    if current <= best.get(key, float("inf")):
        if search == "transducer":
            save_model(out / "best.pt", model, table, card)
        best[key] = current
    tqdm.write(f"update {step} ({search}): dev ORC-WER "
               + ", ".join(f"{k} {v['orc_wer']:.3f}" for k, v in results.items()))
    write_plot(out)
    return best
