"""A small `kustomize build` in Python, for the tests of deploy/k8s/.

No kustomize binary comes from the registries this project installs from, so this
implements exactly the kustomization fields deploy/k8s/ uses, the way kustomize v5 applies
them, and refuses any other field rather than ignore it:

- `resources`: YAML files beside the kustomization, each one or more documents;
- `namespace`: set on every namespaced resource (not on the Namespace itself, nor on
  other cluster-scoped kinds);
- `labels`, with `includeSelectors` and `includeTemplates` false (kustomize's default):
  added to the `metadata.labels` of every resource, generated ones included, and nowhere
  else;
- `images`: `name` matched against the image of every container and init container of a
  pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job; a CronJob's job
  template), without or with a tag or digest, replaced by `newName`, `newTag`, `digest`;
- `secretGenerator` and `configMapGenerator` with `envs` (KEY=VALUE lines, `#` comments
  and blank lines skipped) and `literals`, only under `generatorOptions:
  disableNameSuffixHash: true` (the hashed names kustomize would otherwise give, and the
  references it would rewrite, are not implemented).

Where a `kubectl` (or `kustomize`) binary is installed, a test builds deploy/k8s/ with it too
and compares the two results.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "namespace",
    "labels",
    "resources",
    "images",
    "secretGenerator",
    "configMapGenerator",
    "generatorOptions",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class UnsupportedKustomization(ValueError):  # noqa: N818 - what it is, not an error
    """The kustomization uses a field or option this build does not implement."""


def build(directory: Path) -> list[Resource]:
    """The resources `kustomize build directory` would print, in the order of the files."""
    kustomization = _load_kustomization(directory)
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"not implemented here: {sorted(unknown)}")
    if kustomization.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or (
        kustomization.get("kind") != "Kustomization"
    ):
        raise UnsupportedKustomization("not a kustomize.config.k8s.io/v1beta1 Kustomization")

    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if not path.is_file():
            raise UnsupportedKustomization(f"only files are implemented as resources: {entry}")
        resources += [
            document
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if document is not None
        ]
    resources += _generated(directory, kustomization)

    for resource in resources:
        _check_resource(resource)
        if "namespace" in kustomization and resource["kind"] not in CLUSTER_SCOPED:
            resource["metadata"]["namespace"] = kustomization["namespace"]
        for labels in kustomization.get("labels", []):
            _add_labels(resource, labels)
        for image in kustomization.get("images", []):
            for container in _containers(resource):
                _set_image(container, image)
    return resources


def _load_kustomization(directory: Path) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise UnsupportedKustomization(f"{path} is not a mapping")
    return document


def _check_resource(resource: Any) -> None:
    if not isinstance(resource, dict) or not {"apiVersion", "kind", "metadata"} <= set(resource):
        raise UnsupportedKustomization(f"not a Kubernetes resource: {resource!r:.200}")
    if not resource["metadata"].get("name"):
        raise UnsupportedKustomization(f"a {resource['kind']} without a name")


def _generated(directory: Path, kustomization: dict[str, Any]) -> list[Resource]:
    generators = [("Secret", entry) for entry in kustomization.get("secretGenerator", [])] + [
        ("ConfigMap", entry) for entry in kustomization.get("configMapGenerator", [])
    ]
    if not generators:
        return []
    options = kustomization.get("generatorOptions", {})
    if options != {"disableNameSuffixHash": True}:
        raise UnsupportedKustomization(
            "generators are implemented only with generatorOptions: disableNameSuffixHash: true"
        )
    made: list[Resource] = []
    for kind, entry in generators:
        unknown = set(entry) - {"name", "envs", "literals"}
        if unknown:
            raise UnsupportedKustomization(f"{kind} generator fields {sorted(unknown)}")
        values: dict[str, str] = {}
        for env in entry.get("envs", []):
            values.update(_env_file(directory / env))
        for literal in entry.get("literals", []):
            key, _, value = literal.partition("=")
            values[key] = value
        metadata = {"name": entry["name"]}
        if kind == "Secret":
            data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
            made.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": metadata,
                    "type": "Opaque",
                    "data": data,
                }
            )
        else:
            made.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": values}
            )
    return made


def _env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise UnsupportedKustomization(f"{path}:{number}: not KEY=VALUE")
        values[key.strip()] = value
    return values


def _add_labels(resource: Resource, labels: dict[str, Any]) -> None:
    unknown = set(labels) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown or labels.get("includeSelectors") or labels.get("includeTemplates"):
        raise UnsupportedKustomization("labels are implemented only as pairs on metadata")
    metadata = resource["metadata"]
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels["pairs"]}


def pod_specs(resource: Resource) -> Iterator[dict[str, Any]]:
    """The pod spec of a workload resource (none of any other kind)."""
    if resource["kind"] in POD_TEMPLATE_KINDS:
        yield resource["spec"]["template"]["spec"]
    elif resource["kind"] == "CronJob":
        yield resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif resource["kind"] == "Pod":
        yield resource["spec"]


def _containers(resource: Resource) -> Iterator[dict[str, Any]]:
    for spec in pod_specs(resource):
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def _set_image(container: dict[str, Any], image: dict[str, Any]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise UnsupportedKustomization(f"images fields {sorted(unknown)}")
    current: str = container["image"]
    name, tag = _split_image(current)
    if name != image["name"]:
        return
    new = image.get("newName", name)
    if "digest" in image:
        container["image"] = f"{new}@{image['digest']}"
    elif "newTag" in image:
        container["image"] = f"{new}:{image['newTag']}"
    else:
        container["image"] = new + tag


def _split_image(image: str) -> tuple[str, str]:
    """The name, and the `:tag` or `@digest` that follows it ('' if none)."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""
