"""The modular baseline: silero-vad → a recogniser (Whisper tiny.en, or pocketsphinx) → voice-change cuts →
resemblyzer embeddings → clustering → turns (engine/cascade/pipeline.py)."""
