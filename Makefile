# todo-api — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go
TOOL  := $(GO) tool -modfile=$(CURDIR)/tools.mod
BIN   := bin/todo-api
# One build for `make build`, `make run` and the Dockerfile: a static binary.
BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o

.PHONY: help run build test test-pgbouncer typecheck bench client-package rolling-restart conformance e2e failover events-faults reminders-scale peer loadtest generate check-generate lint lint-go lint-spec lint-events check-breaking spec-baseline update-docs-ui migrate-up migrate-down migrate-version db-start db-stop nats-start nats-stop clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: build ## the service on http://localhost:8000 (starts a private PostgreSQL when DATABASE_URL is unset)
	TODO_BIN=$(CURDIR)/$(BIN) scripts/run.sh

build: ## the static binary bin/todo-api (the same the Docker image ships)
	$(BUILD) $(BIN) ./cmd/todo-api

test: ## every Go test, against a real PostgreSQL and NATS JetStream (private ones when TEST_DATABASE_URL/DATABASE_URL and TEST_NATS_URL are unset), and the TypeScript type-check
	scripts/with-pg.sh scripts/with-nats.sh $(GO) test -count=1 ./...
	$(MAKE) -s typecheck

TS := clients/typescript
$(TS)/node_modules: $(TS)/package.json $(TS)/package-lock.json
	npm --prefix $(TS) ci --no-audit --no-fund --no-update-notifier
	@touch $@

typecheck: $(TS)/node_modules ## tsc --noEmit over the TypeScript client and its browser test page
	npm --prefix $(TS) run --silent typecheck

test-pgbouncer: ## every Go test again, its pools through Debian's PgBouncer in transaction mode (installs it when missing, as root)
	scripts/with-pg.sh scripts/with-pgbouncer.sh scripts/with-nats.sh $(GO) test -count=1 ./...

bench: ## the Go benchmarks, through the full HTTP stack and a real database
	scripts/with-pg.sh scripts/with-nats.sh $(GO) test -run '^$$' -bench . -benchmem ./...

CHECKS ?= 2000
conformance: ## the property-based conformance tests at CHECKS cases per property (default 2000) with a new seed; a failure prints how to replay it
	scripts/with-pg.sh $(GO) test -count=1 -run '^TestConformance' -v ./internal/httpx -rapid.checks=$(CHECKS) -rapid.seed=$$(date +%s) | grep -Ev '^=== |\[rapid\] OK'

e2e: ## the browser tests: Swagger UI, ReDoc, the TypeScript client from another origin, two devices of one user (installs chromium)
	scripts/e2e.sh

client-package: ## npm pack the TypeScript client, install it into a fresh Vite + TypeScript app (pinned, from npm), tsc --noEmit and vite build there
	scripts/client-package.sh

rolling-restart: ## two replicas behind nginx under load; SIGTERM one, restart it: no request may fail, no create duplicate (installs nginx when missing, as root)
	scripts/rolling-restart.sh

failover: build ## the primary's loss under load: Patroni + etcd + HAProxy (installed when missing, as root), two replicas, 8 clients, the leader killed; prints the figures and fails when a check does (VIA=proxy: through HAProxy)
	scripts/with-patroni.sh $(GO) run ./cmd/todo-failover -bin $(BIN) -via $(or $(VIA),url)

events-faults: build ## the event log under faults: 8 writers, the active relay's replica SIGKILLed / nats-server restarted / PostgreSQL restarted; each event exactly once, in order (SCENARIOS=measure: the same-sitting figures)
	scripts/events-faults.sh $(SCENARIOS)

reminders-scale: build ## 100,000 reminders due in one minute, two replicas: each fired exactly once within 60 s of its time (minutes, not in CI)
	scripts/events-faults.sh reminders-scale

peer: ## todo-api and PocketBase v0.39.11 (built from the Go module proxy) under the same wrk cases in one sitting, and the ratio table (RUNS=5; needs wrk; minutes, not in CI)
	scripts/peer.sh

loadtest: ## wrk at 8 connections against bin/todo-api with a 100,000-task user (needs wrk)
	scripts/loadtest.sh

generate: $(TS)/node_modules ## regenerate gen/ (servers, queries, MCP tools) and the TypeScript client's types from openapi/ and db/
	$(TOOL) oapi-codegen -config oapi-codegen.yaml -package authapi -o gen/authapi/api.gen.go openapi/auth-api.yaml
	$(TOOL) oapi-codegen -config oapi-codegen.yaml -package tasksapi -o gen/tasksapi/api.gen.go openapi/tasks-api.yaml
	$(GO) run ./db/queries/listgen -o db/queries/tasks_list.sql
	$(GO) run ./openapi/mcpgen -o gen/mcptools/tools.gen.go
	$(TOOL) sqlc generate
	npm --prefix $(TS) run --silent generate

GENERATED := gen db/queries/tasks_list.sql $(TS)/src/generated
check-generate: generate ## fail when gen/ or the TypeScript types differ from what `make generate` produces
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is out of date: run 'make generate' and commit the result"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	  if [ -n "$$untracked" ]; then echo "untracked generated files: $$untracked"; exit 1; fi

lint: lint-go lint-spec lint-events check-breaking ## golangci-lint, the OpenAPI and AsyncAPI linters and the breaking-change gate

lint-go: ## golangci-lint (pinned in tools.mod)
	$(TOOL) golangci-lint run ./...

REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --yes @redocly/cli@2.77.0
lint-spec: ## lint openapi/*.yaml with Redocly CLI (pinned; rules in redocly.yaml)
	$(REDOCLY) lint openapi/*.yaml

EV := asyncapi
# --ignore-scripts: validate needs none of the install scripts, one of which reports the install.
$(EV)/node_modules: $(EV)/package.json $(EV)/package-lock.json
	npm --prefix $(EV) ci --no-audit --no-fund --no-update-notifier --ignore-scripts
	@touch $@

# The CLI sends usage metrics unless its analytics file says no (asyncapi/cli-analytics.json),
# and looks for a newer version of itself unless told not to.
ASYNCAPI := ASYNCAPI_METRICS_CONFIG_PATH=$(CURDIR)/$(EV)/cli-analytics.json ASYNCAPI_SKIP_NEW_VERSION_CHECK=true \
  SUPPRESS_NO_CONFIG_WARNING=true SUPPRESS_STRICTNESS_CHECK=true $(EV)/node_modules/.bin/asyncapi
lint-events: $(EV)/node_modules ## validate asyncapi/events.yaml with the AsyncAPI CLI (pinned in asyncapi/package-lock.json)
	$(ASYNCAPI) validate $(EV)/events.yaml

migrate-up: build ## apply migrations to DATABASE_DIRECT_URL, else DATABASE_URL
	$(BIN) migrate up

migrate-down: build ## roll back one migration (DATABASE_DIRECT_URL, else DATABASE_URL)
	$(BIN) migrate down 1

migrate-version: build ## print the schema version (DATABASE_DIRECT_URL, else DATABASE_URL)
	$(BIN) migrate version

check-breaking: ## fail when openapi/*.yaml breaks clients of the released baseline in openapi/baseline (oasdiff)
	@for f in openapi/*.yaml; do \
	  echo "oasdiff breaking openapi/baseline/$$(basename $$f) $$f"; \
	  $(TOOL) oasdiff breaking --fail-on ERR openapi/baseline/$$(basename $$f) $$f || exit 1; \
	done

spec-baseline: ## accept the current specs as the released baseline (do it on purpose, at a release)
	cp openapi/*.yaml openapi/baseline/

update-docs-ui: ## re-vendor Swagger UI's and ReDoc's assets from npm (SWAGGER_UI=5.35.0 REDOC=3.0.1)
	scripts/vendor-docs-ui.sh $(or $(SWAGGER_UI),5.35.0) $(or $(REDOC),3.0.1)

db-start: ## start the private PostgreSQL under .data/
	scripts/pg.sh start && scripts/pg.sh url

db-stop: ## stop the private PostgreSQL
	scripts/pg.sh stop

nats-start: ## start the private NATS server (JetStream, file storage) under .data/
	scripts/nats.sh start && scripts/nats.sh url

nats-stop: ## stop the private NATS server
	scripts/nats.sh stop

clean: db-stop nats-stop ## stop the database and the NATS server and delete .data/ and bin/
	rm -rf .data bin
