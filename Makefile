# anfang: `make demo` runs the server on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
# chromium: the browser stories in tests/browser drive Debian's build through Playwright.
DEB_PACKAGES = fonts-noto-cjk libharfbuzz-subset0 poppler-utils qpdf chromium

BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install system-packages demo test clean

install: system-packages $(STAMP)

system-packages:
	@scripts/install-system-packages.sh $(DEB_PACKAGES)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/anfang demo run --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
