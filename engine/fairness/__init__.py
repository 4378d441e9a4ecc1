"""Fairness review: evaluation sets, regions over (lon, lat), cohort discovery, with speaker-level statistics.

tables.py      read CSV/Parquet/JSONL and check the schema (row and column named on error)
geocode.py     offline geocoding: place names (cities, US states, countries) and ZIP codes
evalset.py     a checked table → per-speaker rows and per-utterance edit counts
importing.py   checked, scored and stored in one transaction
audio_run.py   build an evaluation set by running a backend over audio
stats.py       corpus WER, bootstrap over speakers, permutation tests
regions.py     the clustering tree over (lon, lat)
cohorts.py     geodemographic partitions and automatic (k-means) cohorts
analyses.py    run a regions/cohorts analysis for a stored set and store it
reports.py     the --json formats other tools consume
mapdata.py     tables for the regional map (polygons, points, colours, tooltips)
alignment.py   reference/hypothesis word alignment for people
synthetic.py   synthetic sets with planted disparities (benchmarks, tests)
demo.py        seed the shipped Speech Accent Archive demo set
"""
