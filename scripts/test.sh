#!/usr/bin/env bash
# npm test. Two phases, because the two kinds of test file want different things:
#  - unit files (beside the code in src/, runtimes/, scripts/) run in process, one layer at a time:
#    they run side by side, one file per core;
#  - the scenario suites (test/) start real runtimes, gateways, Redis and browsers and hold them
#    to latency budgets and timeouts: they run one file at a time, so one suite's load is not
#    another's missed deadline.
# Both run against the CLI compiled by the build (SWITCHYARD_TEST_CLI=dist: test/harness/process.ts),
# which starts faster than the sources through tsx. Arguments, if any, go to both `node --test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build
export SWITCHYARD_TEST_CLI=dist

mapfile -t unit < <(find src runtimes scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort)
mapfile -t scenario < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
cores=$(node -p 'require("node:os").availableParallelism()')

# Both phases run whatever the first gives: a failing unit file should not hide the scenarios.
status=0
node --import tsx --test --test-concurrency="$cores" "$@" "${unit[@]}" || status=$?
node --import tsx --test --test-concurrency=1 "$@" "${scenario[@]}" || status=$?
exit "$status"
