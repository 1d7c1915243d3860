#!/usr/bin/env bash
# For `python -m bot.evaluation --only spacy-pkuseg`: spaCy's pkuseg segmenter and its model,
# both from the package registry (nothing is downloaded at run time, nothing from GitHub).
#  - spacy-pkuseg (the segmenter spaCy's `zh` tokenizer calls) goes into the Rasa environment;
#  - its model is the `default` model that ships inside the `pkuseg` sdist (pkuseg 0.0.25,
#    MIT licence), unpacked into var/pkuseg/default.
# The assistant itself does not use pkuseg: docs/nlu-evaluation.md says why.
set -euo pipefail
cd "$(dirname "$0")/.."
pip=".venv/rasa/bin/pip"
"$pip" install --quiet --disable-pip-version-check 'spacy-pkuseg==1.0.2'
if [ ! -f var/pkuseg/default/weights.npz ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "==> fetching the pkuseg sdist (48 MB) for its default model"
  "$pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: --no-build-isolation 'pkuseg==0.0.25' -d "$tmp" >/dev/null 2>&1 || true
  archive=$(ls "$tmp"/pkuseg-0.0.25.tar.gz)
  tar xzf "$archive" -C "$tmp" pkuseg-0.0.25/pkuseg/models/default
  mkdir -p var/pkuseg
  rm -rf var/pkuseg/default
  mv "$tmp/pkuseg-0.0.25/pkuseg/models/default" var/pkuseg/default
fi
echo "==> pkuseg model in var/pkuseg/default"
