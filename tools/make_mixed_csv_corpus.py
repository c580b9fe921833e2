"""A realistic bring-your-own corpus: real speech of Emo-DB, SAVEE and RAVDESS mixed into one CSV
manifest (29 speakers with very uneven counts, some with one utterance; the 4 classes; about 460
utterances; FLAC, some resampled to 22.05 kHz, some stereo; non-ASCII speaker names), to run every
paper's protocol as a user with their own corpus would (``serlib reproduce PAPER -p corpus ...``).

Usage: python tools/make_mixed_csv_corpus.py DATA_ROOT OUTPUT_FOLDER  → OUTPUT_FOLDER/corpus.csv
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from math import gcd
from scipy.signal import resample_poly
from serlib import corpora
root, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
frames = []
for name in ("emodb", "savee", "ravdess"):
    m = corpora.load_manifest(name, root / name, download=False)
    if "vocal_channel" in m: m = m[m["vocal_channel"] == "speech"]
    m = m.assign(speaker=name + ":" + m["speaker"].astype(str))
    frames.append(m[m["emotion"].isin(corpora.FOUR_CLASS)])
pool = pd.concat(frames, ignore_index=True)
rng = np.random.default_rng(7)
speakers = sorted(pool["speaker"].astype(str).unique())
chosen = list(rng.choice(speakers, 29, replace=False))
sizes = np.maximum(1, np.round(60 * rng.pareto(1.2, 29) / 3).astype(int)).clip(1, 45)
rows = []
for number, (speaker, size) in enumerate(zip(chosen, sizes)):
    mine = pool[pool["speaker"].astype(str) == speaker].sample(frac=1, random_state=number).head(int(size))
    alias = ("Zoë", "Łukasz", "Ngọc")[number] if number < 3 else f"talker{number:02d}"
    for take, row in enumerate(mine.itertuples()):
        audio, rate = sf.read(row.path, always_2d=False)
        if take % 3 == 1:
            g = gcd(22050, rate)
            audio, rate = resample_poly(audio, 22050 // g, rate // g, axis=0), 22050
        if take % 5 == 4:
            audio = np.stack([audio, audio], axis=1)
        path = out / "audio" / alias / f"{take:02d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio, rate)
        rows.append({"path": path.relative_to(out).as_posix(), "speaker": alias, "emotion": row.emotion})
table = pd.DataFrame(rows)
table.to_csv(out / "corpus.csv", index=False)
print(len(table), table["speaker"].nunique(), table["emotion"].value_counts().to_dict(), sorted(table["speaker"].value_counts().tolist()))
