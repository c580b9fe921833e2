"""serlib: corpora, features, models and protocols for reproducible speech emotion recognition.

Words with one meaning each, in the code and on the pages:

- **training**: one model (or estimator) fitted once, with one seed, on one split
  (:class:`serlib.papers.common.Training`); its **outcome** (:class:`serlib.training.Outcome`) is its
  test predictions and per-epoch history, stored under the training's identity
  (:mod:`serlib.identity`) and exported to ``outcomes/<paper>/``.
- **grid**: every training a paper's page needs under a profile (``training_grid``); a **job** is
  one training of a grid handed to an executor (:class:`serlib.jobs.JobSpec`).
- **profile**: a named set of a paper's settings (``smoke``, ``full``).
- **results file**: ``results/<paper>/<corpus>-<profile>.json``, the rows a page shows
  (:class:`serlib.results.ResultsFile`).
- **page**: a paper's executed notebook in the book (``book/papers/<paper>.ipynb``);
  ``serlib reproduce`` executes notebooks, ``serlib pages`` regenerates pages from stored outcomes.
- *<Table>Outcomes* (e.g. ``crnn.FoldOutcomes``): what a protocol function returns, the outcomes
  of one table's trainings arranged the way its table reads them.
- **run** is a verb only: a notebook, a job or a protocol runs. ``<paper>.results_file(...)`` builds
  the results file of what ran (a :class:`~serlib.results.ResultsFile`, named ``record`` in code);
  a notebook's execution ends in a :class:`~serlib.reproduce.NotebookReport` (``report``). Stored
  trainings live in ``<cache>/trainings/`` (an older cache's ``runs/`` is still read).
- **window**: one model input cut from an utterance, whatever a paper calls it: rnn's 25-frame
  sequences, capsule's ±45-frame contexts, scalogram's segments. An outcome's (and a
  results row's) **level** is ``window`` (each input scored) or ``utterance`` (its windows'
  posteriors averaged); crnn and etransformer classify whole utterances and have no windows.
- **protocol**: how a paper evaluates (its splits, how a model or rate is chosen, its tables): a
  paper module's protocol functions and a results file's ``protocol`` sentence; etransformer's two
  evaluation protocols (``protocols``: random and speaker-independent folds) are protocols in
  the same sense. The paper contracts of :mod:`serlib.papers.contract` are ``typing.Protocol`` s:
  Python's word, not ours.
- **study**: a page beyond the papers (:data:`serlib.papers.STUDIES`, e.g. the cross-corpus matrix).
"""

__version__ = "0.1.0"
