# Set-up and everyday commands. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-quick install install-test system-test-deps bench bench-install bench-tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# The packages are installed editable, from their sources: byte-compile them as an
# ordinary install does, or every start of the command compiles its modules again
# (with PYTHONDONTWRITEBYTECODE set, Python does not cache them itself).
COMPILE := $(BIN)/python -m compileall -q cli filetransfer faspmanager

install: $(VENV)/.installed
	@$(COMPILE)
install-test: $(VENV)/.installed-test
	@$(COMPILE)

# Runs the shipped example job: copies conf.example/data to demo/target, and shows
# the run's log file (demo/logs/example/).
demo: install
	@rm -rf demo/target demo/logs/example
	@code=0; $(BIN)/filetransfer -c conf.example/filetransfer.cfg example || code=$$?; \
	cat demo/logs/example/*.log 2>/dev/null; \
	echo "exit code: $$code"; echo "files in demo/target:"; \
	cd demo/target 2>/dev/null && find . -type f | sort; exit $$code

# The servers the tests start: OpenSSH's sshd from the system's packages; vsftpd,
# ProFTPD and Pure-FTPd unpacked from theirs into ~/.cache/filetransfer-tests.
system-test-deps:
	@sh tests/install-system-deps.sh

test: install-test system-test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# For a check while working: without the tests marked slow, and the property tests
# (hypothesis) with a tenth of their examples. `make test` (and CI) runs everything.
test-quick: install-test system-test-deps
	$(BIN)/python -m pytest -m 'not slow' --hypothesis-profile=quick $(PYTEST_ARGS)

# Measures filetransfer against sftp, scp, rsync, rclone, lftp and cp on this machine,
# on 127.0.0.1 and through a delay proxy (0, 10, 50 ms round trip); writes
# bench/RESULTS.md. BENCH_ARGS narrows or widens it: '--runs 5 --only sftp,latency',
# '--latency-files 100' (the many-files cases over latency take about a fifth as long).
# Then the overhead of the lock and the run history per run (SQLite, PostgreSQL):
# bench/LOCK_OVERHEAD.md; LOCK_BENCH_ARGS='--runs 50'.
bench-tools:
	@sh bench/install-tools.sh

# The command timed is installed as README's Install does (`pip install .`, not
# editable) in .venv-bench: the editable install's import hook costs every start of
# .venv's Python about 12 ms (pathlib and setuptools' finder), which a user's
# install does not pay. Made again from the sources at each `make bench`.
BENCH_VENV := .venv-bench
bench-install: | $(BIN)/python
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q .

bench: install-test system-test-deps bench-tools bench-install
	$(BIN)/python bench/run.py --python $(BENCH_VENV)/bin/python $(BENCH_ARGS)
	$(BIN)/python bench/lock_overhead.py $(LOCK_BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo .pytest_cache
