"""The modular baseline: silero-vad → resemblyzer embeddings → clustering → pocketsphinx, per segment."""
