"""Mitigation experiments (DESIGN.md "Mitigation experiments"): EWC fine-tuning of Whisper tiny.en for the
worst regions (or the bottom automatic cohort), and adversarial reweighting (ARW) of a speaker-embedding model.

Each experiment kind is a module exposing `add_arguments(parser)`, `params_from_args(args) -> dict` and
`run(params, url=None) -> experiment id`; engine/cli/mitigate.py routes `python -m engine mitigate KIND`
and `mitigate rerun ID` (from the stored parameters) through `EXPERIMENT_MODULES`.
"""

EXPERIMENT_MODULES = {
    "ewc": "engine.mitigation.ewc_experiment",
    "arw": "engine.mitigation.arw_experiment",
}
