#!/bin/sh
# Check (and, as root on Debian/Ubuntu, install) the system packages Stillpoint needs.
#   scripts/system-deps.sh run    packages to render PDFs (pango, harfbuzz subsetting, fonts)
#   scripts/system-deps.sh test   the above plus poppler-utils and Debian's chromium for the tests
# Without root it prints the exact apt-get line instead. With CI=true a missing
# package is an error, because CI must run the PDF and browser tests.
set -eu
what="${1:-run}"
pkgs="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"
[ "$what" = "test" ] && pkgs="$pkgs poppler-utils chromium"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu system; make sure these (or their equivalents) are installed: $pkgs"
  exit 0
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  exit 0
fi
echo "system-deps: missing system packages. Install them with:"
echo "  sudo apt-get install -y$missing"
if [ "${CI:-}" = "true" ] || [ "$what" = "test" ]; then
  exit 1
fi
