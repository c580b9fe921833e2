"""The papers this book reproduces: one registry, and one module per paper.

:data:`PAPERS` is the one list of papers: the book's table of contents and summary, the README,
the tests and ``serlib reproduce`` all read it. A paper with a ``module`` has its configuration
(profiles ``smoke`` and ``full``), its printed numbers and its protocol in
``serlib.papers.<name>``, and a thin notebook ``notebooks/<name>.ipynb`` that calls it.
:data:`STUDIES` lists the pages beyond the papers (e.g. the cross-corpus matrix): they run
through ``serlib reproduce`` and ``serlib pages`` as a paper does, but the status and the
summary, which compare with printed numbers, read :data:`PAPERS` only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType


@dataclass(frozen=True)
class Paper:
    """One paper: its short name, a one-line description (``title``), its citation, its text file
    in ``shared/papers``, the corpora of its tables, (once reproduced) its notebook and protocol
    module, the public corpus its protocol runs on (``stand_in``) in place of a licence-gated corpus
    of the paper (``stand_in_for``), whether the book shows its page (``in_book``: false until a full-profile run
    has produced ``book/papers/<name>.ipynb``), and what it prints: its tables per corpus and its
    figures (:mod:`serlib.status` reports each as run or not)."""

    name: str
    title: str
    seed_file: str
    corpora: tuple[str, ...]
    notebook: str | None = None
    stand_in: str | None = None
    stand_in_for: str | None = None
    in_book: bool = True
    citation: str = ""
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # corpus → the paper's tables on it
    figures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.stand_in is None) != (self.stand_in_for is None) or (self.stand_in_for and self.stand_in_for not in self.corpora):
            raise ValueError(f"paper {self.name!r}: a stand-in names the corpus of the paper it stands in for "
                             f"(stand_in={self.stand_in!r}, stand_in_for={self.stand_in_for!r}, corpora={self.corpora})")

    @property
    def reproduced(self) -> bool:
        return self.notebook is not None

    @property
    def page(self) -> str | None:
        """Where its executed full-profile notebook goes (``book/papers/<name>.ipynb``); the book
        renders it once ``in_book``."""
        return f"book/papers/{self.name}.ipynb" if self.reproduced else None

    @property
    def shown(self) -> bool:
        """Whether the book has its page."""
        return self.reproduced and self.in_book

    @property
    def module_name(self) -> str:
        return f"serlib.papers.{self.name}"

    def module(self) -> ModuleType:
        if not self.reproduced:
            raise ValueError(f"paper {self.name!r} is not reproduced yet (no notebook)")
        return importlib.import_module(self.module_name)


@dataclass(frozen=True)
class Study:
    """A page beyond the papers: its name, a one-line description, its thin notebook and its
    module ``serlib.<name>`` (settings, profiles, ``training_grid``); ``in_book`` once a full run
    has produced ``book/<name>.ipynb``. No printed numbers, so no status row; its cost is in the cost table."""

    name: str
    title: str
    notebook: str
    in_book: bool = False

    @property
    def reproduced(self) -> bool:
        """Always: a study exists with its notebook."""
        return True

    @property
    def page(self) -> str:
        return f"book/{self.name}.ipynb"

    @property
    def shown(self) -> bool:
        return self.in_book

    @property
    def module_name(self) -> str:
        return f"serlib.{self.name}"

    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)


PAPERS: tuple[Paper, ...] = (
    Paper("rnn", "LSTM / BLSTM on MFCC and MSPEC", "002_13b22884e0c272be.txt", ("emodb",), "notebooks/rnn.ipynb",
          citation="P. Cournut and A. M. Buldu, *Speech Emotion Recognition using Recurrent Neural Networks*, "
                   "project report, KTH Royal Institute of Technology (undated)",
          tables={"emodb": ("Table 3", "Table 4")}, figures=("Fig. 3",)),
    Paper("capsule", "BLSTM + 1D conv capsules + routing", "000_0bc443e7594b5991.txt", ("ravdess", "fau-aibo"),
          "notebooks/capsule.ipynb",
          citation="M. A. Jalal, E. Loweimi, R. K. Moore and T. Hain, *Learning temporal clusters using capsule routing "
                   "for speech emotion recognition*, Proc. Interspeech 2019, pp. 1701–1705",
          tables={"ravdess": ("Table 2", "Table 3"), "fau-aibo": ("Table 1", "Table 4")}, figures=("Fig. 2", "Fig. 3")),
    Paper("scalogram", "Morlet scalograms + CNN + attention BLSTM", "003_2cb3a0b9d57af834.txt", ("savee", "emodb", "ravdess"),
          "notebooks/scalogram.ipynb",
          citation="K. Aghajani and I. Esmaili Paeen Afrakoti, *Speech Emotion Recognition Using Scalogram Based Deep "
                   "Structure*, International Journal of Engineering 33(2), 2020, pp. 285–292, "
                   "[doi:10.5829/ije.2020.33.02b.13](https://doi.org/10.5829/ije.2020.33.02b.13)",
          tables={"savee": ("Table 1", "Table 4"), "emodb": ("Table 2", "Table 4"), "ravdess": ("Table 3", "Table 4")}),
    Paper("etransformer", "Residual-BLSTM + time pooling + E-transformer, and seven ablations", "001_286bb7ab87257ce7.txt",
          ("iemocap",), "notebooks/etransformer.ipynb", stand_in="nemo", stand_in_for="iemocap",
          citation="D. Hu, X. Hu and X. Xu, *Multiple Enhancements to LSTM for Learning Emotion-Salient Features in "
                   "Speech Emotion Recognition*, Proc. Interspeech 2022",
          tables={"iemocap": ("Table 1", "Table 2")}, figures=("Fig. 3",)),
    Paper("crnn", "plain CRNN, multi-CRNN and HSF-CRNN (ComParE functionals)", "004_33358a53b8837a94.txt",
          ("iemocap", "emotass"), "notebooks/crnn.ipynb", stand_in="nemo", stand_in_for="iemocap",
          citation="D. Luo, Y. Zou and D. Huang, *Investigation on Joint Representation Learning for Robust Feature "
                   "Extraction in Speech Emotion Recognition*, Proc. Interspeech 2018",
          tables={"iemocap": ("Table 1",), "emotass": ("Table 2",)}),
)


def scoreboard(full_rows):
    """The summary page's scoreboard of the full-profile results rows: per paper and corpus the
    headline counts (:func:`serlib.results.scoreboard`), and on a stand-in corpus the paper's own
    one-line ordering summary (the paper contract's ``ordering_summary``)."""
    from serlib import results

    stand_ins = {p.name: p.stand_in for p in PAPERS if p.stand_in}
    if len(full_rows):  # the papers' rows only: a study beyond them has no printed numbers to score
        full_rows = full_rows[full_rows["paper"].isin([p.name for p in PAPERS])]
    board = results.scoreboard(full_rows, stand_ins)
    board["stand-in: ordering of systems"] = [
        get(paper).module().ordering_summary(full_rows[(full_rows["paper"] == paper) & (full_rows["corpus"] == corpus)])
        if stand_ins.get(paper) == corpus else "–"
        for paper, corpus in zip(board["paper"], board["corpus"])]
    return board


STUDIES: tuple[Study, ...] = (
    Study("crosscorpus", "each paper's main model trained on one corpus, tested on every corpus", "notebooks/crosscorpus.ipynb",
          in_book=True),
)


def get(name: str) -> Paper | Study:
    """The registered paper or study ``name`` (a clear error listing the known names otherwise)."""
    for entry in (*PAPERS, *STUDIES):
        if entry.name == name:
            return entry
    raise ValueError(f"unknown paper {name!r}; known: {[p.name for p in PAPERS]}, and beyond the papers: "
                     f"{[s.name for s in STUDIES]}")
