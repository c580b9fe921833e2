# Two commands do all set-up: `make book` (build the HTML book) and `make test` (run the tests).
# Both create .venv and install the pinned stack on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_CORPORA := $(abspath ../shared/corpora)

.PHONY: install book test test-fast clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The book renders the committed executed notebooks (book/papers/*.ipynb) and the results files;
# only the summary page is executed at build time (with an execution cache).
# The summary page reads results/*.json, which neither the execution cache (keyed on notebook
# source) nor Sphinx's incremental build can see: a newer results file re-executes that page.
book: $(STAMP)
	@if [ -n "$$(find results -name '*.json' -newer _build/html/book/summary.html 2>/dev/null)" ]; then \
		rm -rf .jupyter_cache; touch book/summary.ipynb; fi
	$(BIN)/serlib status --write
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "open _build/html/index.html"

# Every test, in TEST_WORKERS processes of one thread each (set here, before numpy loads, and for
# torch in tests/conftest.py), feature extraction in-process (SERLIB_JOBS=1); nbval executes
# notebooks/*.ipynb (smoke), each notebook's cells in one worker (--dist loadfile), and the book is built.
TEST_WORKERS ?= 2
test: $(STAMP)
	SERLIB_DATA=$${SERLIB_DATA:-$(SHARED_CORPORA)} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
		SERLIB_JOBS=1 SERLIB_THREADS=1 $(BIN)/python -m pytest tests --nbval-lax notebooks -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	SERLIB_DATA=$${SERLIB_DATA:-$(SHARED_CORPORA)} $(BIN)/python -m pytest tests -m "not slow"

clean:
	rm -rf _build .jupyter_cache
