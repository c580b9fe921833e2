"""How fast serlib extracts features and trains, measured on this machine.

    .venv/bin/python benchmarks/extraction.py                      # every extractor, 3 repeats (about 25 min on 2 cores)
    .venv/bin/python benchmarks/extraction.py --repeats 1 --files 40 --output /tmp/quick.md

For each extractor: files per second from an empty cache (cold) with one worker and with every
core, and from a full cache. Every figure is the median of ``--repeats`` runs. Also:

- the pool's start-up (loky starts its workers once per Python session: paid by the first
  parallel extraction only, and excluded from the cold figures by a warm-up run);
- the same-day reference for eGeMAPS: openSMILE's own ``Smile.process_files`` over the same
  files in one process, the API nkululeko's openSMILE feature set calls (nkululeko itself is not
  installed here);
- training steps per second of each paper's main model at its batch size, on the CPU and, where
  there is one, on the GPU (synthetic inputs of the paper's shapes).

It writes a Markdown table (default ``benchmarks/results.md``) that the book's Rerun page
includes, headed with the machine, the date and the commit.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from serlib import config, corpora, features
from serlib.papers import capsule, crnn, etransformer, rnn, scalogram

#: Issue #15's targets on 2 cores.
EGEMAPS_TARGET_S = 12.0
SCALOGRAM_TARGET_S = 40.0
SPEED_UP_TARGET = 1.7
SPEED_UP_APPLIES_ABOVE_MS = 1.0


@dataclass(frozen=True)
class Case:
    """One extractor on one set of files."""

    name: str
    extractor: features.Extractor
    files: str  # which set of files: "emodb" or "scalogram corpora"


def cases() -> list[Case]:
    """The extractors of the papers: rnn's MSPEC and MFCC, the capsule paper's Feature*, eGeMAPS and
    ComParE functionals (crnn), the scalogram paper's Morlet scalograms."""
    return [
        Case("LogMel (40 bands)", rnn.extractors()["MSPEC"], "emodb"),
        Case("MFCC (13)", rnn.extractors()["MFCC"], "emodb"),
        Case("Feature* (capsule)", capsule.FEATURE_STAR, "emodb"),
        Case("eGeMAPS functionals", capsule.EGEMAPS, "emodb"),
        Case("ComParE 2016 functionals", crnn.extractors()["functionals"], "emodb"),
        Case("Scalogram", scalogram.SCALOGRAM, "scalogram corpora"),
    ]


def file_sets(data_root: Path, limit: int | None) -> dict[str, pd.DataFrame]:
    """Emo-DB (all 535 files), and the three corpora as the scalogram paper selects them (its
    4 classes; RAVDESS male actors): the scalogram target is on that set."""
    chosen = scalogram.settings("full")
    sets = {
        "emodb": corpora.load_manifest("emodb", data_root / "emodb", download=False),
        "scalogram corpora": pd.concat([scalogram.load_corpus(name, chosen, data_root).manifest for name in chosen.corpora],
                                       ignore_index=True),
    }
    return {name: manifest.head(limit) if limit else manifest for name, manifest in sets.items()}


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cold_seconds(manifest: pd.DataFrame, extractor: features.Extractor, jobs: int) -> float:
    """Wall time of one extraction into an empty cache."""
    with tempfile.TemporaryDirectory() as empty:
        return timed(lambda: features.extract(manifest, extractor, empty, progress=False, jobs=jobs))


def measure(case: Case, manifest: pd.DataFrame, cores: int, repeats: int) -> dict:
    """Median cold (1 worker, all cores) and cached seconds of ``case`` on ``manifest``."""
    cold_seconds(manifest.head(2 * cores), case.extractor, 1)  # warm-up: lazy imports, openSMILE configs
    cold_seconds(manifest.head(2 * cores), case.extractor, cores)
    serial = statistics.median(cold_seconds(manifest, case.extractor, 1) for _ in range(repeats))
    parallel = statistics.median(cold_seconds(manifest, case.extractor, cores) for _ in range(repeats))
    with tempfile.TemporaryDirectory() as cache:
        features.extract(manifest, case.extractor, cache, progress=False, jobs=cores)
        cached = statistics.median(timed(lambda: features.extract(manifest, case.extractor, cache, progress=False))
                                   for _ in range(repeats))
    n = len(manifest)
    return {"extractor": case.name, "files": f"{n} ({case.files})", "ms per file, 1 worker": 1000 * serial / n,
            "cold s, 1 worker": serial, f"cold s, {cores} workers": parallel,
            "files/s cold, 1 worker": n / serial, f"files/s cold, {cores} workers": n / parallel,
            "speed-up": serial / parallel, "files/s cached": n / cached}


def pool_start_up(manifest: pd.DataFrame, cores: int) -> float:
    """Seconds the first parallel extraction of a session spends starting loky's workers: a
    first parallel run of 2·cores quick files minus a second one."""
    first = cold_seconds(manifest.head(2 * cores), features.MFCC(), cores)
    second = cold_seconds(manifest.head(2 * cores), features.MFCC(), cores)
    return first - second


def opensmile_reference(manifest: pd.DataFrame, repeats: int) -> float:
    """Median seconds of openSMILE's ``Smile.process_files`` (eGeMAPS functionals) over the files,
    in one process."""
    import opensmile

    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    paths = manifest["path"].astype(str).tolist()
    smile.process_files(paths[:2])
    return statistics.median(timed(lambda: smile.process_files(paths)) for _ in range(repeats))


# --------------------------------------------------------------------------- training steps

@dataclass(frozen=True)
class TimedModel:
    """A paper's main model and one batch of inputs of the paper's shapes."""

    paper: str
    name: str
    batch_size: int
    build: Callable[[], object]
    batch: Callable[[int], tuple[object, ...]]  # batch size → model inputs


def timed_models() -> list[TimedModel]:
    import torch

    def frames(batch: int, length: int, dims: int) -> tuple:
        return (torch.randn(batch, length, dims),)

    spectrogram_frames = 300  # 3 s at a 10 ms hop, about a median nEMO utterance
    return [
        TimedModel("rnn", "BLSTM on MSPEC sequences (25 × 40)", rnn.HPARAMS.batch_size,
                  lambda: rnn.RecurrentClassifier(40, 4, "blstm", dropout=rnn.HPARAMS.dropout, l2=rnn.HPARAMS.l2),
                  lambda b: frames(b, rnn.HPARAMS.sequence_length, 40)),
        TimedModel("capsule", "proposed (capsules + BLSTM) on Feature* windows (91 × 75)", capsule.HPARAMS.batch_size,
                  capsule.model_builder("feature_proposed", 75, 8), lambda b: frames(b, 2 * capsule.HPARAMS.context + 1, 75)),
        TimedModel("scalogram", "scalogram CRNN on 2.5 s segments (166 × 32 × 20)", scalogram.HPARAMS.batch_size,
                  lambda: scalogram.ScalogramCRNN(32, 20, 4, dense_units=scalogram.HPARAMS.dense_units,
                                                  dropout=scalogram.HPARAMS.dropout),
                  lambda b: (torch.randn(b, 166, 32, 20),)),
        TimedModel("etransformer", f"proposed (residual-BLSTM + E-transformer) on 4 s of log-mel ({etransformer.HPARAMS.max_frames} × 40)",
                  etransformer.HPARAMS.batch_size, lambda: etransformer.make_model("proposed"),
                  lambda b: (torch.randn(b, etransformer.HPARAMS.max_frames, 40),
                             torch.full((b,), etransformer.HPARAMS.max_frames))),
        TimedModel("crnn", f"HSF-CRNN on log-mel ({spectrogram_frames} × 40) + ComParE (6373)", crnn.HPARAMS.batch_size,
                  lambda: crnn.make_model("HSF-CRNN", 4, 6373),
                  lambda b: ({"spectrogram": torch.randn(b, spectrogram_frames, 40), "functionals": torch.randn(b, 6373)},
                             torch.full((b,), spectrogram_frames))),
    ]


def steps_per_second(model: TimedModel, device: str, steps: int) -> float:
    """Median rate of Adam steps (forward, cross-entropy, backward, update) after 3 warm-up steps."""
    import torch

    torch.manual_seed(0)
    network = model.build().to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    inputs = tuple({k: v.to(device) for k, v in part.items()} if isinstance(part, dict) else part.to(device)
                   for part in model.batch(model.batch_size))
    targets = torch.randint(0, 4, (model.batch_size,), device=device)

    def step() -> float:
        started = time.perf_counter()
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(*inputs), targets)
        loss.backward()
        optimiser.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for _ in range(3):
        step()
    return 1 / statistics.median(step() for _ in range(steps))


# --------------------------------------------------------------------------- report

def machine() -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (f"{features.worker_count()} CPU cores ({cpu}){gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=config.PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def verdicts(extraction: pd.DataFrame, cores: int, reference_s: float | None, full_sets: bool) -> list[str]:
    """Issue #15's targets, each met or missed, with the numbers."""
    lines = []
    if full_sets:
        egemaps = extraction.set_index("extractor").loc["eGeMAPS functionals", f"cold s, {cores} workers"]
        lines.append(f"eGeMAPS on Emo-DB, cold, {cores} workers: {egemaps:.1f} s (target < {EGEMAPS_TARGET_S:.0f} s): "
                     + ("met" if egemaps < EGEMAPS_TARGET_S else "**missed**")
                     + (f"; openSMILE's own `process_files` in one process took {reference_s:.1f} s today, "
                        f"{reference_s / egemaps:.2f}× our time" if reference_s else ""))
        scalograms = extraction.set_index("extractor").loc["Scalogram", f"cold s, {cores} workers"]
        lines.append(f"Scalograms of the three corpora, cold: {scalograms:.1f} s (target < {SCALOGRAM_TARGET_S:.0f} s): "
                     + ("met" if scalograms < SCALOGRAM_TARGET_S else "**missed**"))
    slow = extraction[extraction["ms per file, 1 worker"] > SPEED_UP_APPLIES_ABOVE_MS]
    short = slow[slow["speed-up"] < SPEED_UP_TARGET]
    lines.append(f"Speed-up of {cores} workers over 1 (target ≥ {SPEED_UP_TARGET}× for every extractor above "
                 f"{SPEED_UP_APPLIES_ABOVE_MS:.0f} ms per file): "
                 + ("met by all " + str(len(slow)) if short.empty else
                    "**missed** by " + ", ".join(f"{name} ({speed_up:.2f}×)" for name, speed_up in
                                               zip(short["extractor"], short["speed-up"]))))
    return lines


def report(extraction: pd.DataFrame, start_up: float, reference_s: float | None, training: pd.DataFrame,
           cores: int, repeats: int, full_sets: bool, measured_commit: str) -> str:
    shown = extraction.copy()
    for column in shown.columns[2:]:
        shown[column] = shown[column].map(lambda v: f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")
    shown["speed-up"] = extraction["speed-up"].map(lambda v: f"{v:.2f}×")
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC at commit `{measured_commit}` on {machine()}, "
        f"by `benchmarks/extraction.py` (median of {repeats} runs each).",
        "",
        "**Feature extraction** (`serlib.features.extract`: the audio is read, resampled where needed, "
        "the features computed and written to the cache; cold = empty cache):",
        "",
        shown.to_markdown(index=False),
        "",
        f"The worker pool starts once per Python session, in {start_up:.1f} s; the cold figures above "
        "exclude it (a warm-up run comes first).",
        "",
        "**Targets** (set when the extraction was sped up, on 2 cores):",
        "",
        *[f"- {line}" for line in verdicts(extraction, cores, reference_s, full_sets)],
        "",
        "**Training**: steps per second of each paper's main model at its batch size (Adam, cross-entropy, "
        "synthetic inputs of the paper's shapes; median over steps after a warm-up):",
        "",
        training.to_markdown(index=False, floatfmt=".2f"),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None, help="folder holding emodb/, savee/, ravdess/ (default: $SERLIB_DATA)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=None, help="only the first N files of each set (a quick check)")
    parser.add_argument("--only", nargs="*", default=None, help="extractor names to run (default: all)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--no-training", action="store_true")
    parser.add_argument("--output", default=str(config.PROJECT_ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args(argv)

    import torch

    measured_commit = commit()  # the code this process loaded, before anything runs
    data_root = config.data_root(args.data_root)
    cores = features.worker_count()
    sets = file_sets(data_root, args.files)
    start_up = pool_start_up(sets["emodb"], cores)
    chosen = [case for case in cases() if args.only is None or case.name.split(" (")[0] in args.only or case.name in args.only]
    rows = []
    for case in chosen:
        rows.append(measure(case, sets[case.files], cores, args.repeats))
        print(f"{case.name}: {rows[-1]['cold s, 1 worker']:.1f} s → {rows[-1][f'cold s, {cores} workers']:.1f} s", flush=True)
    extraction = pd.DataFrame(rows)
    reference = opensmile_reference(sets["emodb"], args.repeats) if "eGeMAPS functionals" in set(extraction["extractor"]) else None
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    training = pd.DataFrame([
        {"paper": model.paper, "model": model.name, "batch": model.batch_size,
         **{f"steps/s ({device})": steps_per_second(model, device, args.steps) for device in devices}}
        for model in ([] if args.no_training else timed_models())
    ], columns=["paper", "model", "batch", *[f"steps/s ({device})" for device in devices]])
    full_sets = args.files is None and args.only is None
    text = report(extraction, start_up, reference, training, cores, args.repeats, full_sets, measured_commit)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(output)
    print(text)


if __name__ == "__main__":
    main()
