"""Context commands: create, switch, info, environment, version, list."""

from __future__ import annotations

from importlib import metadata

from swci.errors import SwciError
from swci.executor.render import key_values
from swci.executor.state import Context, SessionState, split_service
from swci.language import commands as c

DISTRIBUTION = "swarm-learning-open"


def swci_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def _create(state: SessionState, context: Context) -> list[str]:
    """Check that the API server answers (bounded by the session's SN retry time), then keep the context."""
    client = state.new_client(context.host, context.port)
    try:
        client.is_up()
    finally:
        client.close()
    state.add_context(context)
    return ["API Server is UP!", f"CONTEXT CREATED : {context.name}"]


def create_with_ip(state: SessionState, command: c.CreateContextWithIp) -> list[str]:
    return _create(state, Context(command.context, command.ip, command.port))


def create_with_service(state: SessionState, command: c.CreateContextWithService) -> list[str]:
    host, port = split_service(command.service)
    return _create(state, Context(command.context, host, port, service=command.service))


def switch(state: SessionState, command: c.SwitchContext) -> list[str]:
    state.context(command.context)
    state.current = command.context
    return [f"DEFAULT CONTEXT SET TO : {command.context}"]


def info(state: SessionState, command: c.GetContextInfo) -> list[str]:
    context = state.context(command.context)
    return key_values(
        [
            ("CONTEXT NAME", context.name),
            ("API SERVER", context.address),
            ("API SERVICE", context.service),
            ("DEFAULT CONTEXT", context.name == state.current),
            ("ENV VARIABLES", len(context.env)),
            ("SWCI IDENTITY", state.identity.name),
            ("SWCI VERSION", swci_version()),
        ]
    )


def get_env(state: SessionState, command: c.GetContextEnv) -> list[str]:
    context = state.context(command.context)
    if command.env not in context.env:
        raise SwciError(
            f"environment variable {command.env} is not set in context {context.name}: "
            f"SET CONTEXT ENV {context.name} {command.env} <envValue> sets it"
        )
    return key_values([(command.env, context.env[command.env])])


def list_env(state: SessionState, command: c.ListContextEnv) -> list[str]:
    context = state.context(command.context)
    if not context.env:
        return [f"NO ENVIRONMENT VARIABLES IN CONTEXT : {context.name}"]
    return key_values(sorted(context.env.items()))


def set_env(state: SessionState, command: c.SetContextEnv) -> list[str]:
    context = state.context(command.context)
    context.env[command.env] = command.value
    return [f"CONTEXT ENV SET : {context.name} : {command.env} = {command.value}"]


def version(state: SessionState, _: c.GetContextVersion) -> list[str]:
    context = state.context()
    sn = state.sn().info()
    return key_values(
        [
            ("API SERVER", context.address),
            ("SN IDENTITY", sn.identity),
            ("SN API VERSION", "1"),
            ("SWCI VERSION", swci_version()),
            ("CHAIN HEIGHT", sn.height),
            ("TRAINING CONTRACT ADDRESS", sn.contract_address),
        ]
    )


def list_contexts(state: SessionState, _: c.ListContexts) -> list[str]:
    if not state.contexts:
        return ["NO CONTEXTS : CREATE CONTEXT <name> WITH IP <ip> creates one"]
    return list(state.contexts)


HANDLERS = {
    c.CreateContextWithIp: create_with_ip,
    c.CreateContextWithService: create_with_service,
    c.SwitchContext: switch,
    c.GetContextInfo: info,
    c.GetContextEnv: get_env,
    c.ListContextEnv: list_env,
    c.SetContextEnv: set_env,
    c.GetContextVersion: version,
    c.ListContexts: list_contexts,
}
