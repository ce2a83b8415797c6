# sanji — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto')

.PHONY: run stop test unit lint proto bench volume services venv clean k8s k8s-validate mutants faults

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@# the code runs from the checkout: put it and the generated protobuf code on the venv's path
	@echo "$(CURDIR)" > $$($(BIN)/python -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')/sanji-checkout.pth
	@echo "$(CURDIR)/gen" >> $$($(BIN)/python -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')/sanji-checkout.pth
	@touch $(STAMP)

venv: $(STAMP)

gen/.stamp: $(PROTOS) $(STAMP) infra/local/gen_proto.py
	$(BIN)/python infra/local/gen_proto.py
	@touch gen/.stamp

proto: gen/.stamp

# PostgreSQL and RabbitMQ: installed and started when missing, used as they are when running.
services:
	bash infra/local/ensure-services.sh

run: proto services
	SANJI_MODE=development $(BIN)/python -m infra.local.run

stop:
	SANJI_MODE=development $(BIN)/python -m infra.local.run --stop

# in random order (pytest-randomly): the header says `Using --randomly-seed=N`, and
# `$(BIN)/python -m pytest -p randomly --randomly-seed=N` runs that order again
test: proto services
	$(BIN)/python -m pytest

# planted faults (tests/mutants.py): each in a scratch copy, caught or missed by the tests that cover it
mutants: proto services
	$(BIN)/python -m tests.mutants $(ARGS)

unit: proto
	$(BIN)/python -m pytest -m "not e2e" shared services/*/tests/test_domain*.py

# ruff, and the proto style (infra/lint_proto.py: versioned packages, *_UNSPECIFIED = 0, statuses as enums)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/python -m infra.lint_proto

# issue 20's suite at full size (tests/faults/): ≥ 100,000 events through the real processes while the broker and
# the database are cut and every process is SIGKILLed (counted: lost 0, applied twice 0), then ≥ 10,000 generated
# REST requests and the gRPC fuzz; `make test` runs the same at a size that fits CI
faults: proto services
	SANJI_MODE=development $(BIN)/python -m tests.faults.run --applications $(or $(APPLICATIONS),34000)
	SANJI_MODE=development $(BIN)/python -m tests.faults.fuzz --examples $(or $(EXAMPLES),25)

bench: proto services
	SANJI_MODE=development $(BIN)/python -m tests.bench $(ONLY)

# issue 22: a year of a large county (CASES cases, seeded) in the bench database SANJI_VOLUME_DATABASE (sanji_volume),
# which `make bench ONLY=lists` measures the everyday lists on
volume: proto services
	SANJI_MODE=development $(BIN)/python -m tests.bench.volume --cases $(or $(CASES),1000000) --seed $(or $(SEED),22)

k8s: venv
	$(BIN)/python -m infra.manifests

k8s-validate: venv
	$(BIN)/kubernetes-validate --strict k8s/*.yaml

clean:
	rm -rf gen .run
