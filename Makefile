# Mobiliza developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
BENCH ?=

.DEFAULT_GOAL := help

.PHONY: help run test lint format bench messages migrate shell clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Mobiliza runs from this folder: install its dependencies (from pyproject.toml), not itself.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python scripts/requirements.py > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python scripts/requirements.py dev > $(VENV)/requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-dev.txt
	touch $@

run: $(VENV)/.installed ## Set up, load the demo and serve it on http://$(HOST):$(PORT)
	$(BIN)/python manage.py migrate --no-input -v 0
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.installed-dev ## Set up and run the whole test suite
	@bash scripts/ensure-chromium.sh
	$(BIN)/python -m mobiliza.core.testrunner

lint: $(VENV)/.installed-dev ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy mobiliza config bench

format: $(VENV)/.installed-dev ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev ## Run the benchmarks (BENCH=name for one); prints one JSON line each
	$(BIN)/python -m bench $(BENCH)

messages: $(VENV)/.installed-dev ## Extract and compile the EN/FR/PT translation catalogues
	cd mobiliza && ../$(BIN)/python ../manage.py makemessages -l en -l fr -l pt --no-obsolete --ignore 'web/static/vendor/*'
	cd mobiliza && ../$(BIN)/python ../manage.py makemessages -d djangojs -l en -l fr -l pt --no-obsolete --ignore 'web/static/vendor/*'
	cd mobiliza && ../$(BIN)/python ../manage.py compilemessages

migrate: $(VENV)/.installed ## Apply the database migrations
	$(BIN)/python manage.py migrate

shell: $(VENV)/.installed ## Django shell
	$(BIN)/python manage.py shell

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var/*.sqlite3* var/media
