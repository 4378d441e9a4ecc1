"""The synthetic speaker population: espeak-ng English accents x voice variants x pitch x rate, plus
mbrola voices driven through espeak-ng, with deterministic disjoint train/dev/test splits.

Held-out test voices are whole accents (espeak) and whole base voices (mbrola), so a test speaker shares
neither accent nor base voice with any training speaker. Dev likewise holds out its own accent and voices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Voice:
    voice_id: str  # stable, unique, readable: "espeak:en-us+f3:p50:r175"
    engine: str  # "espeak" | "mbrola"
    espeak_name: str  # what `espeak-ng -v` takes: "en-us+f3", "mb-us1", "mb-de2-en"
    accent: str
    sex: str  # "female" | "male": the label the voice file declares
    pitch: int  # espeak -p (0-99, default 50)
    rate: int  # espeak -s words per minute (default 175)
    split: str  # "train" | "dev" | "test"


# espeak-ng English accents (voice file -> split).
ESPEAK_ACCENTS = {
    "en-us": "train",
    "en-gb": "train",
    "en-gb-x-rp": "train",
    "en-gb-x-gbclan": "train",
    "en-gb-x-gbcwmd": "train",
    "en-us-nyc": "dev",
    "en-gb-scotland": "test",
    "en-029": "test",
}

# espeak-ng voice variants (file name under espeak-ng-data/voices/!v -> sex label it declares).
# Left out on purpose: whisper voices, robots and effects (Demonic, announcer, UniRobot, anikaRobot,
# fast), which are not plausible meeting participants, and "Mr serious", whose file name has a space.
ESPEAK_VARIANTS = {
    "adam": "male",
    "Alex": "male",
    "Alicia": "female",
    "Andrea": "female",
    "Andy": "male",
    "Annie": "female",
    "antonio": "male",
    "aunty": "female",
    "belinda": "female",
    "benjamin": "male",
    "boris": "male",
    "caleb": "male",
    "david": "male",
    "Denis": "male",
    "Diogo": "male",
    "ed": "male",
    "edward": "male",
    "edward2": "male",
    "Gene": "male",
    "Gene2": "male",
    "gustave": "male",
    "Henrique": "male",
    "Hugo": "male",
    "iven": "male",
    "iven2": "male",
    "iven3": "male",
    "iven4": "male",
    "Jacky": "male",
    "john": "male",
    "kaukovalta": "male",
    "Lee": "male",
    "linda": "female",
    "marcelo": "male",
    "Marco": "male",
    "Mario": "male",
    "max": "male",
    "Michael": "male",
    "michel": "male",
    "miguel": "male",
    "Mike": "male",
    "Nguyen": "male",
    "pablo": "male",
    "paul": "male",
    "pedro": "male",
    "quincy": "male",
    "RicishayMax": "male",
    "RicishayMax2": "male",
    "RicishayMax3": "male",
    "rob": "male",
    "robert": "male",
    "robosoft": "male",
    "robosoft2": "male",
    "robosoft3": "male",
    "robosoft4": "male",
    "robosoft5": "male",
    "robosoft6": "male",
    "robosoft7": "male",
    "robosoft8": "male",
    "steph": "female",
    "steph2": "female",
    "steph3": "female",
    "Storm": "male",
    "Tweaky": "male",
    "zac": "male",
    "anika": "female",
    "AnxiousAndy": "male",
    "f1": "female",
    "f2": "female",
    "f3": "female",
    "f4": "female",
    "f5": "female",
    "grandpa": "male",
    "grandma": "female",
    "croak": "male",
    "klatt": "male",
    "klatt2": "male",
    "klatt3": "male",
    "klatt4": "male",
    "klatt5": "male",
    "klatt6": "male",
    "m1": "male",
    "m2": "male",
    "m3": "male",
    "m4": "male",
    "m5": "male",
    "m6": "male",
    "m7": "male",
    "m8": "male",
    "norbert": "male",
    "sandro": "male",
    "shelby": "male",
    "travis": "male",
    "victor": "male",
}

# mbrola voices (Debian mbrola-XX packages) as espeak-ng names -> (accent, sex, split).
MBROLA_VOICES = {
    "mb-us1": ("en-us", "female", "train"),
    "mb-us3": ("en-us", "male", "train"),
    "mb-en1": ("en-gb", "male", "train"),
    "mb-de1-en": ("german", "female", "train"),
    "mb-de2-en": ("german", "male", "train"),
    "mb-de3-en": ("german", "female", "train"),
    "mb-de4-en": ("german", "male", "train"),
    "mb-fr1-en": ("french", "male", "train"),
    "mb-nl2-en": ("dutch", "male", "train"),
    "mb-hu1-en": ("hungarian", "female", "train"),
    "mb-pl1-en": ("polish", "female", "train"),
    "mb-af1-en": ("afrikaans", "male", "train"),
    "mb-sw2-en": ("swedish", "female", "train"),
    "mb-de5-en": ("german", "female", "dev"),
    "mb-ro1-en": ("romanian", "male", "dev"),
    "mb-us2": ("en-us", "male", "test"),
    "mb-de6-en": ("german", "male", "test"),
    "mb-fr4-en": ("french", "female", "test"),
    "mb-sw1-en": ("swedish", "male", "test"),
    "mb-gr2-en": ("greek", "male", "test"),
}

PITCHES = (35, 50, 65)
RATES = (150, 175, 200)


@lru_cache(maxsize=1)
def _population() -> tuple[Voice, ...]:
    voices = []
    for (accent, split), (variant, sex), pitch, rate in product(
        ESPEAK_ACCENTS.items(), ESPEAK_VARIANTS.items(), PITCHES, RATES
    ):
        name = f"{accent}+{variant}"
        voices.append(Voice(f"espeak:{name}:p{pitch}:r{rate}", "espeak", name, accent, sex, pitch, rate, split))
    for (name, (accent, sex, split)), pitch, rate in product(MBROLA_VOICES.items(), PITCHES, RATES):
        voices.append(Voice(f"mbrola:{name}:p{pitch}:r{rate}", "mbrola", name, accent, sex, pitch, rate, split))
    return tuple(voices)


def voice_population() -> list[Voice]:
    """Every synthetic voice, in a fixed order."""
    return list(_population())


def voices(split: str) -> list[Voice]:
    """The voices of one split ("train", "dev" or "test"), in a fixed order."""
    if split not in SPLITS:
        raise ValueError(f"unknown voice split {split!r}; use one of {', '.join(SPLITS)}")
    return [v for v in _population() if v.split == split]


def voice_by_id(voice_id: str) -> Voice:
    for v in _population():
        if v.voice_id == voice_id:
            return v
    raise KeyError(voice_id)
