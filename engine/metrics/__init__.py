"""Scoring: per-utterance edit counts, multi-talker WERs (meeteval), turn and speed metrics."""
