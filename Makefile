# SenseTwin: `make demo` opens the demo system, `make test` runs every check. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

BUNDLE := dist/sensetwin/sensetwin

.PHONY: demo test lint bench bundle bundle-test clean etcd xcb-libs

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

# Qt's xcb plugin aborts the console on a desktop without its libraries: install them when we may, else the
# console says which (the demo system runs headless either way).
xcb-libs: $(STAMP)
	@missing=$$($(BIN)/python -c 'from app.ui import xcb; m = xcb.missing_libraries() if xcb.uses_xcb() else []; print(xcb.install_command(m).removeprefix("sudo apt-get install ") if m else "")'); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends $$missing; \
		else echo "The console needs: sudo apt-get install $$missing (the demo system still runs headless)" >&2; fi; fi

demo: etcd $(STAMP) xcb-libs
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
