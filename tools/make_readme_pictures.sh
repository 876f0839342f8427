#!/usr/bin/env bash
# The README's pictures of the briefings (docs/*.png): the bundled returns published from a
# copy of data/raw/ in a temporary folder (the project's data/ and reports/ are not touched),
# the latest period, and pages rendered by poppler's pdftoppm at 60 dpi.
#   tools/make_readme_pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/briefings-pictures-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/data"
cp -r data/raw "$WORK/data/raw"
PREFECT_HOME="$WORK/prefect" .venv/bin/briefings run --data-dir "$WORK/data" \
  --out-dir "$WORK/out" --no-deliver >"$WORK/run.log" 2>&1 || { cat "$WORK/run.log"; exit 1; }

period_dir=$(ls -d "$WORK"/out/*/ | sort | tail -1)
picture() {  # picture PDF PAGE: docs/<pdf name>-<page>.png
  pdftoppm -png -r 60 -f "$2" -l "$2" -singlefile "$period_dir/$1.pdf" "docs/$1-$2"
}
picture wiltshire 1
picture wiltshire 2
picture region-south-west 1
picture national 1
picture national 2
echo "docs/: pictures of $(basename "$period_dir") briefings"
