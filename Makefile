PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo bench bench-pg bench-burst bench-webhook bench-sync check lint clean

# The venv is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo --url http://$(HOST):$(PORT)/admin/

run: demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/run.py

# A million cases on PostgreSQL (BENCH_PG_URL, default refunds_bench_1m on localhost); built once.
bench-pg: install
	$(BIN)/python bench/pg_run.py

# The portal's request form under gunicorn and PostgreSQL (BENCH_BURST_URL, default refunds_burst_bench; dropped
# and created each run), offered rates ramped, every customer from a loopback address of its own.
bench-burst: install
	$(BIN)/python bench/burst.py

# The WooCommerce webhook under gunicorn and PostgreSQL (BENCH_WEBHOOK_URL, default refunds_webhook_bench; dropped
# and created each run): 50 signed deliveries a second for a minute.
bench-webhook: install
	$(BIN)/python bench/webhook_bench.py

# sync_orders of 100,000 orders from a paged fake WooCommerce shop on loopback (BENCH_SYNC_URL, default
# refunds_sync_bench; dropped and created each run), then the run after it and a full re-read.
bench-sync: install
	$(BIN)/python bench/sync_bench.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
