#!/usr/bin/env bash
# Renders both Kubernetes variants with kubectl's built-in kustomize when kubectl is on the machine (no cluster is
# contacted): deploy/kubernetes (one replica, SQLite) and deploy/kubernetes/shared-postgres (several replicas,
# PostgreSQL state). test/deploy/kubernetes.test.ts checks the manifests' content in every run, kubectl or not.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v kubectl >/dev/null; then
  for variant in deploy/kubernetes deploy/kubernetes/shared-postgres; do
    rendered=$(kubectl kustomize "$variant")
    echo "kubectl kustomize $variant: objects rendered: $(grep -c '^kind:' <<<"$rendered")"
  done
else
  echo "kubectl not found: kustomizations not rendered (the manifests are still checked by the test suite)"
fi
