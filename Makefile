# Two commands set everything up on a fresh machine (only the package registries are needed):
#   make run    the whole default workflow on embedded data, then the HTML report
#   make test   the test suite
# Both create the virtual environment .venv when it is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2

.PHONY: run test test-slow report lint bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/local --cores $(CORES)
	$(BIN)/snakemake --report results/report.html
	@echo "report: results/report.html"

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html

test: $(STAMP)
	$(BIN)/pytest

# Heavier checks, run before an issue is resolved (not in CI).
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/snakemake --lint

bench: $(STAMP)
	$(BIN)/python benchmarks/diffusion_speed.py
	$(BIN)/python benchmarks/geometry_speed.py --cases parity_n4000,improved_n4000
	$(BIN)/python benchmarks/geometry_accuracy.py
	$(BIN)/python benchmarks/entropy_speed.py

clean:
	rm -rf results .snakemake
