# SenseTwin: `make demo` opens the demo system, `make test` runs every check. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

BUNDLE := dist/sensetwin/sensetwin

.PHONY: demo test lint bench bundle bundle-test clean etcd

# The managers keep every action's uid in etcd (Debian/Ubuntu package etcd-server): installed when we may
# (root, or sudo without a password), otherwise one line says how, before anything starts.
ETCD_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server
etcd:
	@command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || { \
		if [ "$$(id -u)" = 0 ]; then sh -c '$(ETCD_INSTALL)'; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo sh -c '$(ETCD_INSTALL)'; \
		else echo "SenseTwin needs etcd and cannot install it without root: run  sudo apt-get install etcd-server  then make $(MAKECMDGOALS) again" >&2; exit 1; fi; }

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else "SenseTwin needs Python 3.11 to 3.13; set PYTHON=python3.12 (for example)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: etcd $(STAMP)
	$(BIN)/sensetwin demo

lint: $(STAMP)
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy

test: etcd lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -o addopts="" tests/gui
	$(MAKE) bundle-test

# The one-folder bundle (PyInstaller), and the tests that run the bundled binary.
bundle: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bundle]"
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/pyinstaller/sensetwin.spec

bundle-test: bundle
	QT_QPA_PLATFORM=offscreen SENSETWIN_BUNDLE=$(BUNDLE) $(BIN)/python -m pytest -o addopts="" tests/bundle

bench: etcd $(STAMP)
	$(BIN)/python -m tests.perf.report

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
