#!/usr/bin/env bash
# Debian packages Crosstalk needs: speech synthesis (espeak-ng, mbrola voices in contrib/non-free),
# the fortunes text source, headless Chromium for browser tests, PostgreSQL for the db tests.
# Idempotent: does nothing when everything is already installed.
#   bash scripts/install_system.sh [--with-postgres]
set -euo pipefail
packages=(espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 fortunes fortunes-min chromium chromium-driver)
# Accented-English mbrola voices (espeak-ng drives them as mb-XX-en): more held-out voices for simulation.
packages+=(mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-fr1 mbrola-fr4 mbrola-sw1 mbrola-sw2
  mbrola-nl2 mbrola-hu1 mbrola-pl1 mbrola-af1 mbrola-gr2 mbrola-ro1)
[[ "${1:-}" == "--with-postgres" ]] && packages+=(postgresql)

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[[ ${#missing[@]} -eq 0 ]] && exit 0

command -v apt-get >/dev/null || { echo "Please install these Debian packages: ${missing[*]}" >&2; exit 1; }
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
# mbrola voices live in contrib/non-free: enable those components once.
if [[ -f /etc/apt/sources.list.d/debian.sources ]] && ! grep -q "contrib" /etc/apt/sources.list.d/debian.sources; then
  $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' /etc/apt/sources.list.d/debian.sources
fi
if [[ -f /etc/apt/sources.list ]] && grep -qE '^deb .* main$' /etc/apt/sources.list; then
  $SUDO sed -i -E 's/^(deb .* main)$/\1 contrib non-free/' /etc/apt/sources.list
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
