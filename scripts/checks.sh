#!/usr/bin/env bash
# `make test`'s checks, run at once: ruff, mypy --strict, the strict docs build and pytest.
#
# They are independent, and pytest spends much of its time waiting (on subprocesses, sockets and
# timers), so running them side by side takes about as long as pytest alone. Each one's output
# goes to a log file and is printed whole, in a fixed order, once it and every check before it
# have ended: lint, typecheck, docs, then pytest, so the log reads as if they had run one after
# another and pytest's summary stays the last thing a reader (or a CI parser) sees before the
# final verdict. The exit status is 0 only if every check passed.
#
#   scripts/checks.sh [BIN]    BIN: the virtual environment's bin folder (default .venv/bin)
#   PYTEST_WORKERS=N           pytest-xdist workers (default auto: one per core; 0: in one process)
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.venv/bin}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/walink-checks.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -- "-$pid" 2>/dev/null || true  # its process group: the check and its children
  done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

names=(lint typecheck docs pytest)
run() {
  case "$1" in
    lint) "$bin/ruff" check . && "$bin/ruff" format --check . ;;
    # a cache of its own: tests/io/test_client_typing.py runs mypy on .mypy_cache meanwhile, and
    # two mypy processes writing one SQLite cache at once can meet a locked database
    typecheck) "$bin/mypy" --cache-dir .mypy_cache/make-test ;;
    docs) NO_MKDOCS_2_WARNING=1 "$bin/mkdocs" build --strict --site-dir site ;;
    pytest) "$bin/python" -m pytest -n "${PYTEST_WORKERS:-auto}" ;;
  esac
}

set -m # each check in a process group of its own, so an interrupt stops all of it
for name in "${names[@]}"; do
  (
    start=$SECONDS
    run "$name"
    code=$?
    echo "$code $((SECONDS - start))" >"$logs/$name.status"
    exit "$code"
  ) >"$logs/$name.log" 2>&1 &
  pids+=("$!")
done
set +m
echo "make test: running ${names[*]} at once; each one's output follows when it ends" >&2

failed=()
for index in "${!names[@]}"; do
  name="${names[$index]}"
  wait "${pids[$index]}"
  code=$?
  seconds="?"
  [ -f "$logs/$name.status" ] && read -r code seconds <"$logs/$name.status"
  echo "==== $name (exit $code, ${seconds} s) ===="
  cat "$logs/$name.log"
  [ "$code" = 0 ] || failed+=("$name")
done
pids=()
if [ "${#failed[@]}" -gt 0 ]; then
  echo "make test: FAILED: ${failed[*]}" >&2
  exit 1
fi
