"""Simulated multi-party meetings: TTS voices, text, synthesis, mixing, standard sets."""
