# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRAS := airflow,quality,resolve,gateway,soap,test

.PHONY: setup demo test test-fast airflow constraints clean-demo

$(VENV)/.installed: setup.cfg constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

setup: $(VENV)/.installed  ## virtualenv + pinned install

demo: setup  ## embedded home (kept between runs), every source synced through Airflow, the summary
	$(PY) -m demo.run --home var/demo

test: setup  ## the whole test suite against the real local servers, a file per worker on two
	$(PY) -m pytest -q -rs -n 2 --dist loadfile

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not airflow and not celery and not browser"

airflow: setup  ## Airflow's UI on 127.0.0.1:8080 with the project's DAGs (demo home)
	$(PY) -m demo.run --home var/demo --ui

constraints:  ## re-pin after changing dependencies (then commit constraints.txt)
	$(PY) -m pip freeze --exclude-editable | grep -v '^munihub' > constraints.txt

clean-demo:
	rm -rf var/demo
