# Every target sets itself up from nothing: a virtualenv in .venv with the package
# installed editable with its test, local-backend and pipeline extras.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck unit docs demo serve bench fuzz compat clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,local,async,pandas,arrow,dask,export]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check synapse tests examples benchmarks compat
	$(BIN)/ruff format --check synapse tests examples benchmarks compat

typecheck: $(STAMP)
	$(BIN)/mypy --strict synapse $(wildcard examples/*.py)

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

demo: $(STAMP)
	$(BIN)/synapse-local run --seed demo -- $(BIN)/python examples/quickstart.py

serve: $(STAMP)
	$(BIN)/synapse-local serve --seed demo

# The local backend fuzzed from its OpenAPI document, far longer than in `make test`.
# Then schemathesis, a fuzzer we did not write, against the served /openapi.json: no 500.
# (The console-log tail is a stream that stays open until its job ends.)
ST_EXCLUDE = /tail_console_logs/|/_local/|/_storage/
fuzz: $(STAMP)
	SYNAPSE_FUZZ_EXAMPLES=$${SYNAPSE_FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q tests/local/test_fuzz.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'schemathesis>=4'
	$(BIN)/synapse-local run --seed demo -- sh -c '"$(BIN)/st" run "$$SYNAPSE_BASE_URL/openapi.json" \
	  -H "Synapse-Access-Token: Token $$SYNAPSE_ACCESS_TOKEN" --checks not_a_server_error \
	  --max-examples $${SYNAPSE_ST_EXAMPLES:-200} --exclude-path-regex "$(ST_EXCLUDE)" \
	  --request-timeout 30'

bench: $(STAMP)
	$(BIN)/python benchmarks/local_backend.py
	$(BIN)/python benchmarks/listing.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/upload.py
	$(BIN)/python benchmarks/frames.py
	$(BIN)/python benchmarks/dask_scaling.py
	$(BIN)/python benchmarks/async_listing.py
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/export.py

# The old synapse-sdk's own client tests, imports switched to ours (downloads its sdist;
# needs Python 3.12, found under pyenv or given as COMPAT_PYTHON). Not part of `make test`.
compat:
	$(PYTHON) compat/run.py

clean:
	rm -rf $(VENV) .compat-venv site .mypy_cache .ruff_cache .hypothesis
