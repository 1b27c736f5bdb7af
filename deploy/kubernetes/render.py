"""Render the plain manifests in this folder from the Helm chart, for clusters without Helm.

    python deploy/kubernetes/render.py           # rewrite the manifests
    python deploy/kubernetes/render.py --check   # exit 1 if they differ from the chart (CI does this)

Rendering uses Helm's own template engine through the PyPI package ``helm-python-sdk`` (Helm v4 as a
library), the same engine ``helm template`` runs; the output is laid out like ``helm template``
(documents in Helm's install order, each under a ``# Source:`` line). Helm's
``app.kubernetes.io/managed-by: Helm`` label is left out: these objects are applied with kubectl, and
Helm would otherwise take them for its own. The tests import ``VARIANTS`` and ``render`` from here, so
the check and the files cannot drift apart.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "helm" / "semrouter"
RELEASE = "semrouter"

# The plain manifests have no prometheus-adapter to rely on: the HPA scales on CPU only.
_PLAIN: dict[str, Any] = {"autoscaling": {"requestRate": {"enabled": False}}}
VARIANTS: dict[str, dict[str, Any]] = {
    "semrouter.yaml": _PLAIN,
    "semrouter-proxy.yaml": {**_PLAIN, "router": {"mode": "proxy"}},
}

# The one label that says Helm manages an object (the chart's labels helper writes it on every object).
_MANAGED_BY_HELM = re.compile(r"^[ \t]*app\.kubernetes\.io/managed-by: Helm\n", re.MULTILINE)

# Helm's install order (pkg/release/util/kind_sorter.go), enough of it for this chart; others go last.
_KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
]


def render_documents(values: dict[str, Any], namespace: str = "default") -> list[tuple[str, str]]:
    """(source template, YAML document) for every object the chart renders with ``values``."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        rendered: dict[str, str] = chart.render(values, name=RELEASE, namespace=namespace)
    docs: list[tuple[str, str]] = []
    for source, text in rendered.items():
        if not source.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for doc in _MANAGED_BY_HELM.sub("", text).split("\n---\n"):
            if yaml.safe_load(doc) is not None:
                docs.append((source, doc.strip("\n")))

    def order(item: tuple[str, str]) -> tuple[int, str, str]:
        obj = yaml.safe_load(item[1])
        kind = obj["kind"]
        rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
        return rank, kind, obj["metadata"]["name"]

    return sorted(docs, key=order)


def render(values: dict[str, Any]) -> str:
    header = (
        "# Generated from deploy/helm/semrouter by deploy/kubernetes/render.py: do not edit, re-render.\n"
        f"# Helm values: {yaml.safe_dump(values, default_flow_style=True).strip() if values else '{}'}\n"
    )
    return header + "".join(f"---\n# Source: {source}\n{doc}\n" for source, doc in render_documents(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the files differ from a fresh render")
    args = parser.parse_args(argv)
    stale = []
    for name, values in VARIANTS.items():
        path = HERE / name
        text = render(values)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        stale_list = ", ".join(stale)
        print(f"out of date with the chart: {stale_list}; run python deploy/kubernetes/render.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
