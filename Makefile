# anfang: `make demo` runs the server on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
# HOST=0.0.0.0 lets a phone on the same network reach the demo (see README, the phone app).
HOST ?= 127.0.0.1
# chromium: the browser stories in tests/browser drive Debian's build through Playwright.
DEB_PACKAGES = fonts-noto-cjk libharfbuzz-subset0 poppler-utils qpdf chromium

BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install system-packages fonts field-app demo test clean

install: system-packages $(STAMP) fonts field-app

system-packages:
	@scripts/install-system-packages.sh $(DEB_PACKAGES)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# FandolFang (a free 仿宋 for the documents' body) and the other Fandol fonts, taken out of
# Debian's texlive-lang-chinese into the virtualenv, where server/config.py (REPORT_FONTCONFIG_FILE)
# finds them; quick when they are there already.
fonts: $(STAMP)
	@scripts/install-fonts.sh $(VENV)/share/anfang/fonts

# The phone app (/field/): npm packages pinned by field_app/package-lock.json, bundled by esbuild.
# Node.js and npm come from Debian when the machine has none.
FIELD_APP_SOURCES = $(shell find field_app/src field_app/static -type f 2>/dev/null)
FIELD_APP_BUILT = field_app/dist/build.json

field-app: $(FIELD_APP_BUILT)

$(FIELD_APP_BUILT): field_app/package.json field_app/package-lock.json field_app/build.mjs $(FIELD_APP_SOURCES)
	@command -v npm >/dev/null 2>&1 || scripts/install-system-packages.sh nodejs npm
	cd field_app && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && node build.mjs

demo: install
	$(BIN)/anfang demo run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache field_app/node_modules field_app/dist
