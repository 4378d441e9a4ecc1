"""Separator-transducer-segmenter (SST): one streaming model that separates up to two talkers,
recognises them and marks each turn with <sot>/<eot> (DESIGN.md "Model")."""
