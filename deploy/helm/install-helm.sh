#!/usr/bin/env bash
# Builds the Helm CLI from source through the Go module proxy into .local/bin/helm (no binary
# download needed). Needs Go 1.24+; a cold build takes a few minutes on two cores.
#   deploy/helm/install-helm.sh            # pinned version below
#   HELM_VERSION=v3.x.y deploy/helm/install-helm.sh
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${root}/.local/bin"
mkdir -p "${bin}"

if [ -x "${bin}/helm" ] && "${bin}/helm" version --template '{{ .Version }}' 2>/dev/null | grep -qx "${HELM_VERSION}"; then
  echo "helm ${HELM_VERSION} already in ${bin}"
  exit 0
fi

command -v go >/dev/null || { echo "install Go first (https://go.dev/doc/install or apt-get install golang)" >&2; exit 1; }

# Helm's release builds stamp these through -ldflags. Without them `helm version` prints no version
# and the default Kubernetes version for `helm template` and `helm lint` is 1.20, which breaks
# kubeVersion constraints and the deprecated-API checks. The Kubernetes minor is the one of the
# k8s.io modules Helm is built against.
gomod="$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
k8s_minor="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9][0-9]*\)\..*/\1/p' "${gomod}" | head -n 1)"
[ -n "${k8s_minor}" ] || { echo "could not read the k8s.io/client-go version from ${gomod}" >&2; exit 1; }

ldflags="-w -s -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done

GOBIN="${bin}" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
  go install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
"${bin}/helm" version --short
