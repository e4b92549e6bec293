#!/usr/bin/env bash
# Placeholder: the demo is written later and replaces this file.
set -euo pipefail
echo "demo: not yet written" >&2
exit 1
