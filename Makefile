# Two entry points: `make demo` (main job end to end) and `make test` (lint + test suite).
# Both create .venv on first use and install ragbridge at the exact versions in
# constraints.txt (pyproject.toml declares only compatible ranges): the demo needs only the
# core and plots; the tests take every extra (serving, Ray, llama.cpp, the frameworks).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo demo-quick study study-qwen study-qwen-collect test lint

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed-demo: $(VENV)/.created pyproject.toml constraints.txt
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e '.[plots]'
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e '.[dev]'
	touch $@ $(VENV)/.installed-demo

install: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	$(BIN)/ragbridge demo

demo-quick: $(VENV)/.installed-demo
	$(BIN)/ragbridge demo --quick

# The study of BENCHMARKS.md "Results" from an empty cache (hours; rerun = resume), then the
# default demo's own reference run, then the judgments file `make demo` replays. On another
# machine it resumes from what an earlier run committed under benchmarks/results/study (the
# silver records and the judgments that `ragbridge collect --judgments` wrote there).
STUDY_JUDGMENTS = benchmarks/results/study/judgments.jsonl.gz
study: $(VENV)/.installed-demo
	$(BIN)/ragbridge collect --runs runs/study --name study --restore
	$(BIN)/ragbridge demo --preset study --runs runs/study \
		$(if $(wildcard $(STUDY_JUDGMENTS)),--judgments $(STUDY_JUDGMENTS),--no-replay)
	$(BIN)/ragbridge demo --preset default --no-replay --runs runs/demo-reference
	$(BIN)/ragbridge export-judgments --out src/ragbridge/judgments/study.jsonl.gz
	$(BIN)/ragbridge collect --runs runs/study --name study --judgments
	$(BIN)/ragbridge collect --runs runs/demo-reference --name demo-reference

# The study on Qwen2.5-Coder-0.5B (issue 28; BENCHMARKS.md "Choosing the study's LLM"): hours,
# rerun = resume. On another machine it first restores the silver records and replays the
# judgments that `make study-qwen-collect` committed under benchmarks/results/qwen-study.
QWEN = llamacpp:qwen2.5-coder-0.5b
QWEN_JUDGMENTS = benchmarks/results/qwen-study/judgments.jsonl.gz
study-qwen: $(VENV)/.installed-demo
	$(BIN)/ragbridge collect --runs runs/qwen-study --name qwen-study --restore
	$(BIN)/ragbridge demo --preset qwen-study --runs runs/qwen-study \
		$(if $(wildcard $(QWEN_JUDGMENTS)),--judgments $(QWEN_JUDGMENTS),--no-replay)

# What the Qwen study has measured so far (tables, silver, judgments), to commit before a stop.
study-qwen-collect: $(VENV)/.installed-demo
	$(BIN)/ragbridge collect --runs runs/qwen-study --name qwen-study \
		--judgments --llm $(QWEN)

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks experiments

test: lint
	$(BIN)/python -m pytest
