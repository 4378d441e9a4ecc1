"""The one configuration of the Whisper-based SST: sizes of the trained parts and where the separator sits.
It is saved inside every checkpoint, so a checkpoint rebuilds its own model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class SSTSettings:
    split_after: int = 2  # the separator sits after this Whisper encoder block (1..3 of 4)
    channels: int = 2  # output channels (talkers at once)
    separator: bool = True  # False: the ablation "Whisper alone" (one channel, the mixture itself)
    # True: the SST owns a copy of Whisper's blocks after the split (and the final norm) and may train it;
    # False: they are Whisper's own, frozen and shared with the cascade.
    adapt_upper: bool = False
    # Separator (Conv-TasNet-style temporal convolution stack over the block's 20 ms frames).
    bottleneck: int = 192
    hidden: int = 384
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    # Transducer head over subsampled frames of each channel's encoder output.
    subsample: int = 4  # 4 x 20 ms = 80 ms per transducer frame
    transducer_dim: int = 256
    predictor_embed: int = 128
    predictor_hidden: int = 256

    def to_json(self) -> dict:
        data = asdict(self)
        data["dilations"] = list(self.dilations)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SSTSettings":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown SST settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "dilations" in values:
            values["dilations"] = tuple(values["dilations"])
        settings = cls(**values)
        if not settings.separator and settings.channels != 1:
            raise ValueError("without a separator there is one channel: the mixture")
        if not 1 <= settings.split_after <= 3:
            raise ValueError(f"split_after is 1, 2 or 3 (a block of Whisper tiny's 4), not {settings.split_after}")
        return settings
