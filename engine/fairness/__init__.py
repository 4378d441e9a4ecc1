"""Fairness review: evaluation sets, regions over (lon, lat), cohort discovery, with speaker-level statistics.

    tables.py      read CSV/Parquet/JSONL and check the schema (row and column named on error)
    geocode.py     offline geocoding: place names (cities, US states, countries) and ZIP codes
    evalset.py     turn a checked table into per-speaker and per-utterance rows with edit counts
    stats.py       corpus WER, bootstrap over speakers, permutation tests
    regions.py     the clustering tree over (lon, lat)
    cohorts.py     geodemographic partitions and automatic (k-means) cohorts
    analyses.py    run a stored regions/cohorts analysis for a named evaluation set
    reports.py     the --json formats other tools consume
    audio_run.py   build an evaluation set by running a backend over audio
    demo.py        seed the shipped Speech Accent Archive demo set
"""
