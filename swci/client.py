"""Python client of SWCI's web API: the product's ``swarmlearning.swci.Swci`` methods over ``POST /exec``.

``SwciClient`` (also importable as ``swarmlearning.swci.Swci``) keeps the product's constructor and method names, so
notebooks written for the documented product run unmodified::

    s = SwciClient("127.0.0.1", 30306, clientCert="swci-1-cert.pem", clientPKey="swci-1-key.pem",
                   clientCABundle="ca/capath")
    s.createContext("ctx", ip="127.0.0.1", port=30304); s.switchContext("ctx")
    print(s.getTrainingContractPerformanceData("defaultbb.cqdb.sml.hpe"))

Every command method returns the output lines (stripped) or ``[]`` on failure, with the reason in ``getErrors()``.
Differences from the product's client, on purpose: the server's certificate is verified when ``clientCABundle`` (a
CA bundle file or a CA folder) or a ``TLSIdentity`` is given (host names are not checked: swarm peers are trusted by
CA, as everywhere in this project); without one the client does not verify it, like the product, and logs a warning.
The process environment is not changed (the product sets ``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import logging
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

from swarm_learning.tls import TLSIdentity

DEFAULT_WEB_PORT = 30306
DEFAULT_TASK_RUNNER = "defaulttaskbb.taskdb.sml.hpe"
DEFAULT_TRAINING_CONTRACT = "defaultbb.cqdb.sml.hpe"
DONE_STATES = frozenset({"COMPLETE", "ERROR", "IDLE"})
LOG_FORMAT = "%(asctime)s [%(levelname)-5.5s]  %(message)s"
LEVELS = {"CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR, "WARNING": logging.WARNING,
          "INFO": logging.INFO, "DEBUG": logging.DEBUG}  # fmt: skip
NODE_FIELDS = ("NodeType", "HostIP", "Port", "ContainerName", "UUID", "ParentUUID", "i-am-alive")


def _default_logger(level: int) -> logging.Logger:
    """The product's ``swci-web`` logger: console plus ``swci-web.log`` in the current directory (set up once)."""
    logger = logging.getLogger("swci-web")
    if not logger.handlers:
        formatter = logging.Formatter(LOG_FORMAT)
        for handler in (logging.StreamHandler(), logging.FileHandler("swci-web.log")):
            handler.setFormatter(formatter)
            logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


def _ssl_context(cert: str, key: str | None, ca_bundle: str | None, logger: logging.Logger) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.load_cert_chain(cert, key)
    if ca_bundle:
        if Path(ca_bundle).is_dir():
            for pem in sorted(Path(ca_bundle).iterdir()):
                if (
                    pem.is_file()
                    and pem.suffix in {".pem", ".crt", ".cer"}
                    and b"BEGIN CERTIFICATE" in pem.read_bytes()
                ):
                    ctx.load_verify_locations(cafile=str(pem))
        else:
            ctx.load_verify_locations(cafile=ca_bundle)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        logger.warning("no clientCABundle: the SWCI server's certificate is not verified")
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class SwciClient:
    """The product's SWCI web client (see the module doc); ``identity`` is this project's way to pass mTLS files."""

    def __init__(
        self,
        swciIp: str | None,
        port: int = DEFAULT_WEB_PORT,
        clientCert: str | None = None,
        clientPKey: str | None = None,
        clientCABundle: str | None = None,
        logger: logging.Logger | None = None,
        logLv: int | str = logging.WARNING,
        enableCaching: bool = True,
        *,
        identity: TLSIdentity | None = None,
        timeout: float | None = None,
    ) -> None:
        if not swciIp:
            raise RuntimeError("SWCI IP not provided!")
        if not isinstance(port, int) or isinstance(port, bool):
            raise RuntimeError("SWCI Port not Integer!")
        level = LEVELS.get(str(logLv).upper(), logLv if isinstance(logLv, int) else logging.WARNING)
        self.logger = logger or _default_logger(level)
        self.enableCaching = enableCaching
        self._cache: dict[str, list[str]] = {}
        self._errors: list[str] = []
        verify: ssl.SSLContext | bool
        if identity is not None:
            scheme, verify = "https", identity.client_context()
        elif clientCert:
            scheme, verify = "https", _ssl_context(clientCert, clientPKey, clientCABundle, self.logger)
        else:
            self.logger.warning("no clientCert: using plain HTTP, which an SWCI server (mutual TLS) refuses")
            scheme, verify = "http", False
        self.baseUrl = f"{scheme}://{swciIp}:{port}"
        self._http = httpx.Client(verify=verify, timeout=httpx.Timeout(timeout, connect=10.0))

    # -- plumbing ------------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SwciClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def setLogLevel(self, logLv: int | str) -> None:
        self.logger.setLevel(LEVELS.get(str(logLv).upper(), logging.WARNING))

    def getErrors(self) -> str | None:
        return "\n".join(self._errors) if self._errors else None

    def clearCache(self) -> None:
        self._cache.clear()

    def _fail(self, message: str) -> list[str]:
        self.logger.error("%s", message)
        self._errors = [message]
        return []

    def execute(self, cmd: str, cacheable: bool = False) -> list[str]:
        """Run one SWCI command on the server: its output lines, or [] (reason in ``getErrors()``)."""
        if cacheable and self.enableCaching and cmd in self._cache:
            return list(self._cache[cmd])
        self._errors = []
        self.logger.debug("exec %s", cmd)
        try:
            response = self._http.post(f"{self.baseUrl}/exec", params={"cmd": cmd})
            body: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.logger.debug("POST /exec failed: %s", exc)
            return self._fail(f"ERROR : Exception occurred during POST request ({type(exc).__name__}: {exc})")
        items = body.get("CONTENT") if isinstance(body, dict) else None
        if not items:
            if isinstance(body, dict) and body.get("message"):  # a refusal by the server's role policy
                return self._fail(f"ERROR : {body['message']} (HTTP {response.status_code})")
            return self._fail("ERROR : Command did not produce output")
        lines: list[str] = []
        for item in items:
            if str(item).startswith("ERROR "):
                return self._fail(str(item))
            lines += [line.strip() for line in str(item).splitlines()]
        if cacheable and self.enableCaching:
            self._cache[cmd] = list(lines)
        return lines

    def _forget(self, *commands: str) -> None:
        for cmd in commands:
            self._cache.pop(cmd, None)

    # -- miscellaneous ---------------------------------------------------------------------------------------------
    def ls(self, optStr: str = "") -> list[str]:
        return self.execute(f"ls {optStr}".strip())

    def pwd(self) -> list[str]:
        return self.execute("pwd")

    def sleep(self, sleepTime: float) -> list[str]:
        return self.execute(f"sleep {sleepTime}")

    def cd(self, dirPath: str) -> list[str]:
        return self.execute(f"cd {dirPath}")

    def listNodes(self) -> list[str]:
        return self.execute("list Nodes")

    # -- contexts ----------------------------------------------------------------------------------------------------
    def createContext(
        self, ctxName: str, ip: str | None = None, port: int = 30304, service: str | None = None
    ) -> list[str]:
        if ip:
            cmd = f"create context {ctxName} with ip {ip} {port}"
        elif service:
            cmd = f"create context {ctxName} with service {service}"
        else:
            raise RuntimeError("createContext needs either ip or service")
        lines = self.execute(cmd)
        if lines:
            self._forget("list contexts")
        return lines

    def switchContext(self, ctxName: str) -> list[str]:
        return self.execute(f"switch context {ctxName}")

    def getContextInfo(self, ctxName: str) -> list[str]:
        return self.execute(f"get context info {ctxName}", cacheable=True)

    def listContexts(self) -> list[str]:
        return self.execute("list contexts", cacheable=True)

    # -- training contracts -------------------------------------------------------------------------------------------
    def createTrainingContract(self, ctName: str) -> list[str]:
        lines = self.execute(f"create contract {ctName}")
        if lines:
            self._forget("list contracts")
        return lines

    def getTrainingContractInfo(self, ctName: str) -> list[str]:
        return self.execute(f"get contract info {ctName}", cacheable=True)

    def getTrainingContractStatus(self, ctName: str) -> list[str]:
        return self.execute(f"get contract status {ctName}")

    def getTrainingContractPerformanceData(self, ctName: str) -> list[str]:
        return self.execute(f"perfdata {ctName}")

    def listTrainingContracts(self) -> list[str]:
        return self.execute("list contracts", cacheable=True)

    def resetTrainingContract(self, ctName: str = DEFAULT_TRAINING_CONTRACT) -> list[str]:
        return self.execute(f"reset contract {ctName}")

    # -- tasks ------------------------------------------------------------------------------------------------------
    def uploadTaskDefintion(self, taskFilePath: str) -> str:
        """Upload a task YAML into SWCI's current directory (``POST /uploadTaskDef``); returns the server's text."""
        path = Path(taskFilePath)
        if not path.is_file():
            raise RuntimeError(f"task definition file {taskFilePath} not found")
        try:
            response = self._http.post(
                f"{self.baseUrl}/uploadTaskDef", files={"file": (path.name, path.read_bytes(), "application/x-yaml")}
            )
        except httpx.HTTPError as exc:
            raise RuntimeError(f"upload of {taskFilePath} failed: {exc}") from exc
        if response.status_code != 200:
            raise RuntimeError(f"upload of {taskFilePath} failed (HTTP {response.status_code}): {response.text}")
        return response.text

    uploadTaskDefinition = uploadTaskDefintion  # the product's spelling above, the right one here

    def createTaskFrom(self, yamlFileName: str) -> list[str]:
        lines = self.execute(f"create task from {yamlFileName}")
        if lines:
            self._forget("list tasks")
        return lines

    def registerTask(self, yamlFileName: str, finalize: bool = True) -> list[str]:
        """CREATE TASK FROM the file (already in SWCI) and, by default, FINALIZE it: ``['Registered Task : <name>']``."""
        lines = self.createTaskFrom(yamlFileName)
        registered = [line for line in lines if "Task Registered" in line]
        if not registered:
            return [] if self._errors else self._fail(f"ERROR : no 'Task Registered' line for {yamlFileName}")
        name = registered[0].split(":", 1)[1].strip()
        if finalize and not self.finalizeTask(name):
            return []
        return [f"Registered Task : {name}"]

    def finalizeTask(self, taskName: str) -> list[str]:
        lines = self.execute(f"finalize task {taskName}")
        if lines:
            self._forget(f"get task info {taskName}", f"get task body {taskName}")
        return lines

    def deleteTask(self, taskName: str) -> list[str]:
        lines = self.execute(f"delete task {taskName}")
        if lines:
            self._forget(f"get task info {taskName}", f"get task body {taskName}", "list tasks")
        return lines

    def getTaskInfo(self, taskName: str) -> list[str]:
        return self.execute(f"get task info {taskName}", cacheable=True)

    def getTaskBody(self, taskName: str) -> list[str]:
        return self.execute(f"get task body {taskName}", cacheable=True)

    def listTasks(self) -> list[str]:
        return self.execute("list tasks", cacheable=True)

    # -- taskrunners ----------------------------------------------------------------------------------------------------
    def createTaskRunner(self, trName: str) -> list[str]:
        lines = self.execute(f"create taskrunner {trName}")
        if lines:
            self._forget("list taskrunners")
        return lines

    def listTaskRunners(self) -> list[str]:
        return self.execute("list taskrunners", cacheable=True)

    def getTaskRunnerInfo(self, trName: str) -> list[str]:
        return self.execute(f"get taskrunner info {trName}", cacheable=True)

    def getTaskRunnerStatus(self, trName: str) -> list[str]:
        return self.execute(f"get taskrunner status {trName}")

    def getTaskRunnerPeerStatus(self, trName: str, idx: int) -> list[str]:
        return self.execute("get taskrunner peer status %s %d" % (trName, idx))  # noqa: UP031 - the product's %d

    def resetTaskRunner(self, trName: str = DEFAULT_TASK_RUNNER) -> list[str]:
        return self.execute(f"reset taskrunner {trName}")

    def assignTask(self, taskName: str, trName: str, peers: int) -> list[str]:
        return self.execute(f"assign task {taskName} to {trName} with {peers} peers")

    def taskState(self, trName: str) -> str:
        """The ``TASK_STATE`` of a taskrunner's status; RuntimeError when the status cannot be read."""
        lines = self.getTaskRunnerStatus(trName)
        if not lines:
            raise RuntimeError(f"status of taskrunner {trName} unavailable: {self.getErrors()}")
        for line in lines:
            key, sep, value = line.partition(":")
            if sep and key.strip().upper() == "TASK_STATE":
                return value.strip().upper()
        raise RuntimeError(f"status of taskrunner {trName} has no TASK_STATE line")

    def isTaskDone(self, trName: str) -> bool:
        return self.taskState(trName) in DONE_STATES

    def executeTask(
        self,
        taskName: str,
        tr: str = DEFAULT_TASK_RUNNER,
        peers: int = 1,
        pollWaitInSec: float = 120,
        resetTROnSuccess: bool = True,
    ) -> str:
        """Assign, poll until done, print the final status and every peer's, reset on COMPLETE; the final state."""
        if not self.assignTask(taskName, tr, peers):
            raise RuntimeError(f"assigning {taskName} to {tr} failed: {self.getErrors()}")
        while not self.isTaskDone(tr):
            time.sleep(pollWaitInSec)  # the product's polling period, chosen by the caller
        state = self.taskState(tr)
        print("\n".join(self.getTaskRunnerStatus(tr)))
        for idx in range(peers):
            print("\n".join(self.getTaskRunnerPeerStatus(tr, idx)))
        if state == "COMPLETE" and resetTROnSuccess:
            self.resetTaskRunner(tr)
        return state

    # -- topology -----------------------------------------------------------------------------------------------------
    def nodeRows(self) -> list[dict[str, str]]:
        """``LIST NODES`` as dictionaries keyed by the product's column names (header skipped)."""
        rows = []
        for line in self.listNodes()[1:]:
            fields = [field.strip() for field in line.split(",")]
            if len(fields) >= len(NODE_FIELDS):
                rows.append(dict(zip(NODE_FIELDS, fields)))
        return rows

    def plotTopology(
        self,
        SNColour: str = "#ADD8E6",
        SWOPColor: str = "#33FF33",
        SLColor: str = "#FFCCCB",
        attrs: list[str] | None = None,
    ) -> Any:
        """The swarm as a networkx MultiGraph (parent -> child by UUID), drawn when matplotlib is available."""
        import networkx as nx

        graph = nx.MultiGraph()
        colours = {"SW": SWOPColor, "SL": SLColor}
        for row in self.nodeRows():
            kind = {"SWOP": "SW", "SL": "SL"}.get(row["NodeType"].upper(), "SN")
            label = "\n".join([f"{kind}\n{row['HostIP']}", *(f"{a}: {row[a]}" for a in attrs or [] if a in row)])
            graph.add_node(row["UUID"], label=label, color=colours.get(kind, SNColour))
        for row in self.nodeRows():
            if row["ParentUUID"] in graph and row["ParentUUID"] != row["UUID"]:
                graph.add_edge(row["ParentUUID"], row["UUID"])
        try:
            import matplotlib.pyplot  # noqa: F401 - only to know whether drawing is possible
        except ImportError:
            return graph
        nx.draw(
            graph,
            nx.spring_layout(graph),
            labels=nx.get_node_attributes(graph, "label"),
            node_color=[graph.nodes[n]["color"] for n in graph.nodes],
            node_size=1500,
            font_size=8,
        )
        return graph
