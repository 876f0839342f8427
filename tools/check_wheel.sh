#!/usr/bin/env bash
# The built wheel, installed in a fresh virtual environment outside the clone, publishes the
# bundled returns to the same bytes as the checkout: templates, reference data, the Great
# Expectations context and branding travel inside the package.
#   tools/check_wheel.sh [REFERENCE_OUT_DIR]
# Without REFERENCE_OUT_DIR it first publishes the bundled data from the checkout itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$PWD
UV="${PYTHON:-python3} -m uv"
WORK=$(mktemp -d /tmp/briefings-wheel-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

$UV build --wheel --out-dir "$WORK/dist" >/dev/null
$UV export --locked --no-dev --no-emit-project --no-hashes --format requirements-txt \
  >"$WORK/requirements.txt"
$UV venv --quiet --python "${PYTHON:-python3}" "$WORK/venv"
$UV pip install --quiet --python "$WORK/venv/bin/python" -r "$WORK/requirements.txt" \
  "$WORK"/dist/*.whl

mkdir -p "$WORK/elsewhere/data"
cp -r data/raw "$WORK/elsewhere/data/raw"
(cd "$WORK/elsewhere" && PREFECT_HOME="$WORK/prefect" "$WORK/venv/bin/briefings" run \
  --data-dir data --out-dir out --no-deliver >"$WORK/wheel-run.log" 2>&1) ||
  { cat "$WORK/wheel-run.log"; exit 1; }

REFERENCE=${1:-}
if [ -z "$REFERENCE" ]; then
  mkdir -p "$WORK/checkout/data"
  cp -r data/raw "$WORK/checkout/data/raw"
  .venv/bin/briefings run --data-dir "$WORK/checkout/data" --out-dir "$WORK/checkout/out" \
    --no-deliver >"$WORK/checkout-run.log" 2>&1 || { cat "$WORK/checkout-run.log"; exit 1; }
  REFERENCE="$WORK/checkout/out"
fi

fail=0
count=0
for pdf in "$REFERENCE"/*/*.pdf; do
  period=$(basename "$(dirname "$pdf")")
  count=$((count + 1))
  if ! cmp -s "$pdf" "$WORK/elsewhere/out/$period/$(basename "$pdf")"; then
    echo "differs from the checkout's: $period/$(basename "$pdf")" >&2
    fail=1
  fi
done
extra=$(cd "$WORK/elsewhere/out" && ls -1 */*.pdf | wc -l)
if [ "$count" -eq 0 ] || [ "$extra" -ne "$count" ]; then
  echo "the checkout published $count PDFs, the wheel $extra" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "wheel: $count PDFs byte-identical to the checkout's"
exit $fail
