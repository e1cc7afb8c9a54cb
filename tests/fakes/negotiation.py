"""``Accept`` negotiation, and the metadata-only transforms it can ask for.

The apiserver takes the first acceptable media range of the ``Accept`` header (by ``q``): JSON, YAML
(not for a watch) or protobuf, optionally converted with ``as=<Kind>;g=meta.k8s.io;v=v1`` to
``PartialObjectMetadata``/``PartialObjectMetadataList`` (or ``Table``, which the fake does not
implement, nor protobuf: ranges asking for those are skipped, so keep a JSON fallback). No acceptable
range is a 406 listing the accepted types. A conversion that does not fit the response is a 406 too:
``PartialObjectMetadata`` for a list, ``PartialObjectMetadataList`` for a single object.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.status import not_acceptable

ACCEPTED = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
_META_VERSIONS = ("meta.k8s.io/v1", "meta.k8s.io/v1beta1")
PARTIAL, PARTIAL_LIST = "PartialObjectMetadata", "PartialObjectMetadataList"


@dataclass(frozen=True)
class MediaType:
    yaml: bool = False
    convert: str | None = None  # PARTIAL | PARTIAL_LIST
    group_version: str = "meta.k8s.io/v1"

    @property
    def content_type(self) -> str:
        return "application/yaml" if self.yaml else "application/json"


def negotiate(accept: str | None, watch: bool) -> MediaType:
    if not accept or not accept.strip():
        return MediaType()
    ranges = []
    for position, raw in enumerate(accept.split(",")):
        parts = [p.strip() for p in raw.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, parts[0].lower(), params))
    for _, _, media, params in sorted(ranges, key=lambda entry: entry[:2]):
        choice = _acceptable(media, params, watch)
        if choice is not None:
            return choice
    raise not_acceptable(f"only the following media types are accepted: {ACCEPTED}")


def _acceptable(media: str, params: dict[str, str], watch: bool) -> MediaType | None:
    if media in ("application/json", "*/*", "application/*"):
        yaml = False
    elif media == "application/yaml" and not watch:
        yaml = True
    else:
        return None  # protobuf, cbor and anything else: not served by the fake
    if params.get("stream", "watch") != "watch":
        return None
    if not any(k in params for k in ("as", "g", "v")):
        return MediaType(yaml=yaml)
    kind, group_version = params.get("as", ""), f"{params.get('g', '')}/{params.get('v', '')}"
    if kind in (PARTIAL, PARTIAL_LIST) and group_version in _META_VERSIONS:
        return MediaType(yaml=yaml, convert=kind, group_version=group_version)
    return None  # Table (not implemented), or a conversion the server does not offer


def check_list(media: MediaType, go_list_type: str) -> None:
    if media.convert == PARTIAL:
        raise not_acceptable(
            f"you requested PartialObjectMetadata, but the requested object is a list ({go_list_type})"
        )


def check_single(media: MediaType, go_type: str) -> None:
    if media.convert == PARTIAL_LIST:
        raise not_acceptable(
            f"you requested PartialObjectMetadataList, but the requested object is not a list ({go_type})"
        )
