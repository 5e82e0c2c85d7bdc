"""The SWOP profile: which task runner a SWOP listens on and the SL/ML pairs it starts.

Strict (unknown keys and wrong types are errors) except where the product's own example profiles depart from its
published schema, which this model accepts as the examples write them:

- ``identity[].attribute.subPath`` is optional (the schema requires a lower-case ``subpath`` that no example writes;
  the SPIRE example leaves it out); ``subpath`` is accepted as another spelling.
- ``slhostname``, ``privatedata``, ``slenvvars``, ``usrhostname`` and ``usrenvvars`` may be left out (same as ``~``),
  and every documented node key (``slhostip``, ``slport``, ``slfsservice``, labels, network and container options)
  is known even where the schema's ``additionalProperties: false`` forgets it.
- environment lists are lists of ``NAME: value`` maps, also in flow form (``[SCRATCH_DIR : "user1", NODE_ID: n1]``);
  values may be numbers or booleans and become strings as Python prints them; ``~`` becomes the empty string.
- several nodes may share a ``usrhostname`` or the same certificate files.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from annotated_types import Ge, MaxLen, MinLen
from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from swop.schema.describe import Expect, problems_from
from swop.schema.fields import EnvList, Labels, Port, StrictModel, env_dict, joined
from swop.schema.positions import read_yaml

DEFAULT_APLS_PORT = 5814
DEFAULT_SL_FS_PORT = 30305

_DOCKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _docker_name(value: str) -> str:
    if not _DOCKER_NAME.match(value):
        raise ValueError(f"{value!r} cannot be part of a container name (use letters, digits, '_', '.', '-')")
    return value


def _ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None
    return value


Path240 = Annotated[str, MinLen(2), MaxLen(240)]
Name253 = Annotated[str, MinLen(1), MaxLen(253)]


class AccessInfo(StrictModel):
    accesstype: Literal["FROMENV"]


class ResourceManager(StrictModel):
    """Where SL and ML run: ``DOCKER`` (the product's only value) or ``PROCESS`` (local processes, our own)."""

    mgrtype: Literal["DOCKER", "PROCESS"]
    accessinfo: AccessInfo | None = None

    @model_validator(mode="after")
    def _docker_needs_access(self) -> ResourceManager:
        if self.mgrtype == "DOCKER" and self.accessinfo is None:
            raise PydanticCustomError(
                "missing_for_docker",
                "field required for mgrtype DOCKER (expected a mapping with accesstype: FROMENV)",
                {"at": ("accessinfo",)},
            )
        return self


class AplsLocator(StrictModel):
    host: Name253
    port: Port | None = None


class Apls(StrictModel):
    """The licence server the spawned SLs use; ``port: ~`` means 5814."""

    locator: AplsLocator

    @property
    def port(self) -> int:
        return DEFAULT_APLS_PORT if self.locator.port is None else self.locator.port


class ApiLocator(StrictModel):
    host: Name253 | None = None
    port: Port | None = None
    service: Name253 | None = None


class ApiServer(StrictModel):
    """The SN API the SWOP and its SLs use; ``~`` values fall back to the SWOP's own command-line settings."""

    locator: ApiLocator


class IdentityAttribute(StrictModel):
    a_type: Literal["KEY", "CERT", "CACERT", "CAPATH", "SPIFFE_SOCKETPATH"] = Field(alias="aType")
    m_type: Literal["BIND", "VOLUME"] = Field(alias="mType")
    src: Path240
    tgt: Path240
    sub_path: Path240 | None = Field(None, alias="subPath", validation_alias=AliasChoices("subPath", "subpath"))

    @property
    def target_path(self) -> str:
        """The path inside the SL container its ``SWARM_ID_*`` variable points at."""
        return joined(self.tgt, self.sub_path)


class IdentityEntry(StrictModel):
    attribute: IdentityAttribute


class PrivateData(StrictModel):
    src: Path240
    m_type: Literal["BIND", "VOLUME"] = Field(alias="mType")


class NetworkOption(StrictModel):
    """Options for joining the profile's network; each list item is usually a single ``ip: ...`` pair."""

    ip: Annotated[str, AfterValidator(_ipv4)] | None = None
    aliases: list[str] | None = None


class ContainerOption(StrictModel):
    """Docker options for the ML container (NVIDIA: ``gpus``; AMD: devices, groups, capabilities, ...)."""

    gpus: str | None = None
    device: list[str] | None = None
    ipc: str | None = None
    shm_size: str | None = Field(None, alias="shm-size")
    group_add: list[str] | None = Field(None, alias="group-add")
    cap_add: list[str] | None = Field(None, alias="cap-add")
    security_opt: list[str] | None = Field(None, alias="security-opt")
    privileged: bool | None = None


NetworkOptions = Annotated[list[NetworkOption] | None, Expect("~ or a list of options such as [ip: 172.18.0.5]")]


class SlNodeDef(StrictModel):
    """One SL/ML pair this SWOP starts for a RUN_SWARM task."""

    idx: Annotated[int, Ge(0)]
    identity: list[IdentityEntry]
    slhostname: Name253 | None = None
    slhostip: Name253 | None = None
    slport: Port | None = None
    slfsservice: Annotated[str, MinLen(2), MaxLen(253)] | None = None
    privatedata: PrivateData | None = None
    slenvvars: EnvList = None
    sllabels: Labels = None
    slnetworkopts: NetworkOptions = None
    usrhostname: Name253 | None = None
    usrenvvars: EnvList = None
    usrlabels: Labels = None
    usrnetworkopts: NetworkOptions = None
    usrcontaineropts: list[ContainerOption] | None = None

    @property
    def identities(self) -> list[IdentityAttribute]:
        return [entry.attribute for entry in self.identity]

    @property
    def fs_port(self) -> int:
        return DEFAULT_SL_FS_PORT if self.slport is None else self.slport


class NodeEntry(StrictModel):
    slnodedef: SlNodeDef


class SwopProfile(StrictModel):
    """A SWOP's profile YAML."""

    groupname: Annotated[str, MinLen(1), MaxLen(64), AfterValidator(_docker_name)]
    taskrunner: Name253
    policyuri: Annotated[str, MinLen(1)] | None
    resourcemgr: ResourceManager
    network: Name253
    apls: Apls
    apisrv: ApiServer
    envvars: EnvList
    dns: list[Name253] | None = None
    nodes: Annotated[list[NodeEntry], MinLen(1)]

    @field_validator("nodes")
    @classmethod
    def _idx_unique(cls, nodes: list[NodeEntry]) -> list[NodeEntry]:
        first: dict[int, int] = {}
        for position, entry in enumerate(nodes):
            idx = entry.slnodedef.idx
            if idx in first:
                raise PydanticCustomError(
                    "duplicate_idx",
                    "idx {idx} is already used by nodes[{first}]; give every node its own idx",
                    {"idx": idx, "first": first[idx], "at": (position, "slnodedef", "idx")},
                )
            first[idx] = position
        return nodes

    @property
    def sl_nodes(self) -> list[SlNodeDef]:
        return [entry.slnodedef for entry in self.nodes]

    def sl_env(self, node: SlNodeDef) -> dict[str, str]:
        """A node's SL environment: the global ``envvars`` overridden by its ``slenvvars``."""
        return env_dict(self.envvars, node.slenvvars)


def load_profile(path_or_text: str | Path, *, name: str = "profile.yaml") -> SwopProfile:
    """Read and validate a SWOP profile (a file path, or YAML text reported as ``name``).

    Raises :class:`SchemaError` naming the file, line, column and field of every problem."""
    doc = read_yaml(path_or_text, name)
    try:
        return SwopProfile.model_validate(doc.data)
    except ValidationError as err:
        raise problems_from(err, doc, SwopProfile) from None
