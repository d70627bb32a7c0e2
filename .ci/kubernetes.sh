#!/usr/bin/env bash
# Renders deploy/kubernetes with kubectl's built-in kustomize when kubectl is on the machine (no cluster is
# contacted). test/deploy/kubernetes.test.ts checks the manifests' content in every run, kubectl or not.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v kubectl >/dev/null; then
  kubectl kustomize deploy/kubernetes | grep -c '^kind:' | xargs echo "kubectl kustomize: objects rendered:"
else
  echo "kubectl not found: kustomization not rendered (the manifests are still checked by the test suite)"
fi
