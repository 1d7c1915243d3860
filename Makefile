# 云澜银行 customer-service assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYENV_VERSION ?= 3.10.13
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1
# TensorFlow's start-up chatter hides what matters
export TF_CPP_MIN_LOG_LEVEL := 2
# no telemetry: the machines have no network, and a bank's assistant reports to no one
export RASA_TELEMETRY_ENABLED := false

VENV_RASA := .venv/rasa
VENV_ACTIONS := .venv/actions
RASA := $(VENV_RASA)/bin/rasa
PY_RASA := $(VENV_RASA)/bin/python
PY_ACTIONS := $(VENV_ACTIONS)/bin/python
MODEL := models/assistant.tar.gz
KB_STAMP := var/.kb-loaded
WEB_STAMP := web/node_modules/.installed
SEED := $(shell find knowledge/seed -name '*.yml' 2>/dev/null)
GENERATED := data/nlu/lookup_products.yml data/nlu/synonyms.yml data/nlu/faq.yml data/nlu/bank_references.yml data/nlu/product_mentions.yml bot/resources/jieba/userdict.txt bot/resources/bank_references.txt bot/resources/bank_facts.json bot/resources/own_brands.txt bot/resources/README.md
TRAINING_INPUTS = config.yml domain.yml banktext/script.py $(shell find data bot/nlu bot/resources -name '*.yml' -o -name '*.py' -o -name '*.txt' 2>/dev/null) $(GENERATED)

.PHONY: help run test eval eval-spacy setup kb nlu-export train validate e5-vectors lint types bench bench-kb clean stories browser-test purge report reviewed run-cluster

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  make %-12s %s\n", $$1, $$2}'

run: setup kb $(MODEL) ## chat with the assistant in the browser at http://localhost:5005/chat (sets up what is missing first)
	@bash scripts/run.sh

test: setup kb ## run every test suite (sets up what is missing first)
	@bash scripts/test.sh

eval: setup $(GENERATED) ## NLU evaluation on the own validation sets, the real-question dev set, cross-validation and the baseline
	@$(PY_RASA) -m bot.evaluation

eval-spacy: setup $(GENERATED) ## measure the project's pipeline with spaCy's Chinese tokenizers (char, pkuseg) in place of jieba
	@bash scripts/pkuseg_model.sh || echo "NOTE: no pkuseg model; spacy-pkuseg is skipped"
	@$(PY_RASA) -m bot.evaluation --only spacy-char
	@test ! -d var/pkuseg/default || $(PY_RASA) -m bot.evaluation --only spacy-pkuseg

setup: $(VENV_RASA)/.installed $(VENV_ACTIONS)/.installed $(WEB_STAMP) ## create both Python 3.10 environments and install the chat page's assets

$(VENV_RASA)/.installed $(VENV_ACTIONS)/.installed: .venv/%/.installed: requirements/%.lock
	@bash scripts/make_venv.sh $* requirements/$*.lock

# the chat page serves socket.io-client's browser build from here, never from a CDN
$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "ERROR: npm (Node.js 18+) is needed for the chat page's assets: install nodejs and npm, then run make again." >&2; exit 1; }
	@echo "==> installing the chat page's assets (npm ci in web/)"
	@cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

kb: $(KB_STAMP) ## load the knowledge seed into the database (KNOWLEDGE_DB_URL, default var/knowledge.db)

$(KB_STAMP): $(SEED) $(VENV_ACTIONS)/.installed
	@echo "==> loading the knowledge base from knowledge/seed"
	@$(PY_ACTIONS) -m knowledge load
	@touch $@

nlu-export: $(GENERATED) ## regenerate lookup tables, synonyms, FAQ data and the jieba dictionary from the seed

$(GENERATED) &: $(SEED) knowledge/nlu_templates.yml knowledge/export.py $(wildcard data/nlu/consultation*.yml) data/nlu/handling.yml data/nlu/aftersales.yml $(VENV_ACTIONS)/.installed
	@echo "==> generating NLU files from the knowledge seed"
	@$(PY_ACTIONS) -m knowledge export-nlu
	@touch $(GENERATED)

train: $(MODEL) ## train the Rasa model when its inputs changed

$(MODEL): $(TRAINING_INPUTS) $(VENV_RASA)/.installed
	@echo "==> training the Rasa model (about two minutes from scratch on 2 cores, a line per stage)"
	@$(PY_RASA) -m bot.train --fixed-model-name assistant --out models
	@touch $@

# Encoding the training sentences is most of a fresh training run; their vectors ship in
# bot/resources/e5/ and a fresh clone encodes only sentences added since they were written.
e5-vectors: setup $(GENERATED) ## rewrite the shipped sentence vectors of the training data (after adding NLU data)
	@$(PY_RASA) -m bot.nlu.e5_featurizer

validate: $(GENERATED) ## rasa data validate
	@$(RASA) data validate --quiet

stories: $(MODEL) ## conversation tests
	@bash scripts/conversation_tests.sh

browser-test: setup ## the website chat in headless Chromium (installs chromium via apt when missing; needs a trained model)
	@bash scripts/browser_tests.sh

run-cluster: setup $(MODEL) ## PostgreSQL, Redis, two Rasa servers, the action server (2 workers) and nginx on :8080; Ctrl-C stops all
	@bash scripts/cluster.sh start && echo "press Ctrl-C to stop the cluster" && trap 'bash scripts/cluster.sh stop' INT TERM EXIT && while true; do sleep 3600; done

purge: setup ## delete conversations older than CONVERSATION_RETENTION_DAYS (default 180), and sealed call-back numbers with them
	@$(PY_RASA) -m bot.stores purge
	@$(PY_ACTIONS) -m knowledge purge

report: $(VENV_ACTIONS)/.installed ## the quality view as one HTML file with its charts (var/report/index.html; REPORT_ARGS="--days 7")
	@$(PY_ACTIONS) -m desk report $(REPORT_ARGS)

reviewed: $(VENV_ACTIONS)/.installed ## the questions supervisors labelled on the desk's 问题标注 page as training data (data/nlu/reviewed.yml); `make train` then learns them
	@$(PY_ACTIONS) -m desk review export

# servers on free ports with scratch databases; the baseline is trained once into var/bench/ (BENCH_ARGS=--quick)
bench: $(VENV_RASA)/.installed $(VENV_ACTIONS)/.installed $(MODEL) ## load benchmark against Rasa's default pipeline: latency, throughput, capacity, memory (results/bench.md)
	@$(PY_RASA) benchmarks/load.py $(BENCH_ARGS)

bench-kb: setup kb ## knowledge-base lookup latency on SQLite and PostgreSQL
	@$(PY_ACTIONS) benchmarks/kb_lookup.py

lint: setup ## ruff + black (check only; rules and versions pinned, settings in pyproject.toml)
	@$(VENV_ACTIONS)/bin/pip install -q ruff==0.17.6 black==26.10.1 >/dev/null
	@$(VENV_ACTIONS)/bin/ruff check banktext knowledge actions bot desk tests benchmarks
	@$(VENV_ACTIONS)/bin/black --check banktext knowledge actions bot desk tests benchmarks

types: setup ## mypy on banktext, the knowledge base, actions and the staff desk
	@$(VENV_ACTIONS)/bin/pip install -q mypy types-PyYAML >/dev/null
	@$(VENV_ACTIONS)/bin/mypy --ignore-missing-imports banktext knowledge actions desk

clean: ## remove environments, models, databases, results and the chat page's node_modules
	rm -rf .venv var models results .rasa web/node_modules
