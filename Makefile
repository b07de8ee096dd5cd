# sunbid tasks. CI (.ci/run) uses `make install` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install fonts demo serve test test-pg lint format typecheck bench migration-check clean

install: $(BIN)/sunbid fonts

# The evaluation report is set in a CJK font: install Debian's Noto CJK when it is missing and we may (root + apt).
fonts:
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing fonts-noto-cjk (CJK font for report PDFs)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null; \
	  else \
	    echo "note: no CJK font found; install fonts-noto-cjk (or set SUNBID_CJK_FONT) for report PDFs"; \
	  fi; }

$(BIN)/sunbid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

demo: install
	$(BIN)/sunbid demo

serve: install
	$(BIN)/sunbid serve

test: install
	$(BIN)/pytest -q

test-pg: install
	SUNBID_TEST_DATABASE_URL=$${SUNBID_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/ledger.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
