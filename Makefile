# The two commands: `make run` (a working demo on a fresh machine) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test install install-test constraints messages translations lint db-upgrade clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# constraints.txt pins every package (and every package they pull in) at the versions the tests
# passed with; refresh it after changing pyproject.toml's dependencies: `make constraints`.
PIP_INSTALL := $(BIN)/pip install -c constraints.txt

install: $(BIN)/python
	$(PIP_INSTALL) -e .
	$(MAKE) translations

# `test` tools plus the `browser` extra (Playwright, axe) for the real-browser journeys
install-test: $(BIN)/python
	$(PIP_INSTALL) -e '.[test,browser]'
	$(MAKE) translations

constraints: $(BIN)/python
	$(BIN)/pip install -e '.[test,browser,prod]'
	{ echo '# The versions the tests passed with: pip freeze of a venv with .[test,browser,prod] (make constraints).'; \
	  echo "# Production: pip install -c constraints.txt -e '.[prod]'"; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

translations:
	$(BIN)/pybabel compile -f -d scheduler/translations

# Re-extract messages after changing visible text. Translations live in
# scheduler/translations/src/*.json (English msgid -> fi/sv); the .po files are regenerated from them.
messages:
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs=".* __pycache__ .venv" -k _l -k lazy_gettext --no-location --sort-output -o scheduler/translations/messages.pot .
	$(BIN)/pybabel update -i scheduler/translations/messages.pot -d scheduler/translations --ignore-obsolete --no-fuzzy-matching
	$(BIN)/python scripts/po_fill.py scheduler/translations/src/*.json
	$(MAKE) translations

run: install
	$(BIN)/flask db upgrade
	@$(BIN)/flask seed-demo || echo "(the demo was already in place; nothing was changed)"
	@echo "Serving at http://127.0.0.1:5000 — sign in with a demo login printed above."
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-1} $(BIN)/flask run --host 127.0.0.1 --port 5000

lint:
	$(BIN)/ruff check scheduler tests app.py scripts $(wildcard bench)
	$(BIN)/lint-imports

test: install-test lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install-test
	$(PIP_INSTALL) -e '.[prod]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache
