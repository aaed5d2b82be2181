"""Agents, plugins, releases, jobs and storages."""

from __future__ import annotations

import os
import warnings
from collections.abc import Generator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any, ClassVar

from pydantic import Field, JsonValue

from synapse.context import awaiting
from synapse.encoding import check_readable
from synapse.enums import JobStatus, StorageCategory, StorageProvider, parse_enum, require_enum
from synapse.errors import (
    InvalidInputError,
    JobFailed,
    JobTimeoutError,
    UnknownValueWarning,
)
from synapse.managers import CreateMixin, DeleteMixin, GetMixin, ListMixin, UpdateMixin
from synapse.query import QuerySet
from synapse.resources.base import (
    JsonDict,
    Relation,
    Resource,
    TolerantJobStatus,
    TolerantStorageCategory,
    TolerantStorageProvider,
    related_id,
)
from synapse.steps import Send, drive, sent
from synapse.transport import Call
from synapse.urls import PathParam, build_path

__all__ = [
    "Agent",
    "AgentManager",
    "Job",
    "JobFailed",
    "JobManager",
    "JobTimeoutError",
    "Plugin",
    "PluginManager",
    "PluginRelease",
    "PluginReleaseManager",
    "RunOptions",
    "Storage",
    "StorageManager",
]


class Agent(Resource):
    """A compute node that runs plugin jobs."""

    _repr_fields = ("id", "name", "status")

    name: str | None = None
    url: str | None = None
    status: str | None = None
    token: str | None = Field(None, repr=False)
    node_install_script: str | None = Field(None, repr=False)


class Plugin(Resource):
    """A plugin; its releases are what runs."""

    _repr_fields = ("id", "code")
    _read_only = Resource._read_only | {"tenant_id"}

    code: str | None = None
    name: str | None = None
    category: str | None = None
    description: str | None = None
    is_active: bool | None = None
    is_public: bool | None = None
    meta: JsonDict | None = None
    created: datetime | None = None

    @property
    def releases(self) -> QuerySet[PluginRelease]:
        """This plugin's releases (lazy)."""
        manager: PluginReleaseManager = self._bound_client().manager_for(PluginRelease)
        return manager.filter(plugin=self)

    def run(
        self,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        agent: int | Agent | None = None,
        storage: int | Storage | None = None,
        version: str | None = None,
        job_id: int | None = None,
        debug: bool | None = None,
        language: str = "ko",
    ) -> Job:
        """Run an action of this plugin; returns the [`Job`][synapse.resources.integration.Job] the
        backend started."""
        plugins: PluginManager = self._manager()
        return plugins.run(
            self.id if self.id is not None else self._require_code(),
            action=action,
            params=params,
            agent=agent,
            storage=storage,
            version=version,
            job_id=job_id,
            debug=debug,
            language=language,
        )

    async def arun(
        self,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        agent: int | Agent | None = None,
        storage: int | Storage | None = None,
        version: str | None = None,
        job_id: int | None = None,
        debug: bool | None = None,
        language: str = "ko",
    ) -> Job:
        """`run()` awaited (a Plugin loaded by an ``AsyncClient``): the same request,
        sent natively on the loop."""
        plugins = self._amanager("arun")
        job: Job = await plugins.arun(
            self.id if self.id is not None else self._require_code(),
            action=action,
            params=params,
            agent=agent,
            storage=storage,
            version=version,
            job_id=job_id,
            debug=debug,
            language=language,
        )
        return job

    def create_release(
        self,
        version: str,
        file: str | os.PathLike[str] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        requirements: list[str] | None = None,
        debug: bool = False,
    ) -> PluginRelease:
        """Release a version of this plugin, with its archive if given."""
        manager: PluginReleaseManager = self._bound_client().manager_for(PluginRelease)
        return manager.create(**self._release(version, file, config, requirements, debug))

    async def acreate_release(
        self,
        version: str,
        file: str | os.PathLike[str] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        requirements: list[str] | None = None,
        debug: bool = False,
    ) -> PluginRelease:
        """`create_release()` awaited (a Plugin loaded by an ``AsyncClient``)."""
        client = awaiting(self._bound_client(), "acreate_release")
        release: PluginRelease = await client.manager_for(PluginRelease).acreate(
            **self._release(version, file, config, requirements, debug)
        )
        return release

    def _release(
        self,
        version: str,
        file: str | os.PathLike[str] | None,
        config: Mapping[str, Any] | None,
        requirements: list[str] | None,
        debug: bool,
    ) -> dict[str, Any]:
        """The release's fields, as `create_release` and its twin give them."""
        return {
            "plugin": self._require_code(),
            "version": version,
            "file": file,
            "config": config,
            "requirements": requirements,
            "debug": debug,
        }

    def _require_code(self) -> str:
        if not self.code:
            raise InvalidInputError("this Plugin has neither an id nor a code")
        return self.code


class PluginRelease(Resource):
    """A released version of a plugin."""

    _repr_fields = ("id", "plugin_id", "version")

    plugin_id: int | None = related_id("plugin")
    version: str | None = None
    config: JsonDict | None = None
    requirements: list[str] | None = None
    debug: bool | None = None
    file: str | None = None
    created: datetime | None = None

    plugin = Relation["Plugin"]("plugin_id")


class Job(Resource):
    """A run of a plugin action. ``wait()`` follows it to the end."""

    _repr_fields = ("id", "action", "status")
    # The backend's job update takes these fields only.
    _writable = frozenset(
        {"status", "progress_record", "metrics_record", "console_logs", "result", "meta"}
    )

    id: int | str | None = None  # type: ignore[assignment]  # UUID strings on some backends
    status: TolerantJobStatus | None = None
    action: str | None = None
    plugin_release_id: int | None = related_id("plugin_release")
    agent: JsonValue = None
    params: JsonDict | None = None
    meta: JsonDict | None = None
    progress_record: JsonValue = None
    metrics_record: JsonValue = None
    console_logs: JsonValue = None
    result: JsonValue = None
    error: JsonValue = None
    created: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None

    plugin_release = Relation["PluginRelease"]("plugin_release_id")

    @property
    def is_finished(self) -> bool:
        """True once the status will not change any more."""
        return isinstance(self.status, JobStatus) and self.status.is_finished

    def logs(self) -> list[str]:
        """The job's console log lines."""
        jobs: JobManager = self._manager()
        return log_lines(jobs.console_logs(self._saved_pk()))

    async def alogs(self) -> list[str]:
        """`logs()` awaited (a Job loaded by an ``AsyncClient``), sent natively."""
        jobs = self._amanager("alogs")
        return log_lines(await jobs.aconsole_logs(self._saved_pk()))

    async def await_(self, timeout: float | None = None, poll: float = 0.5) -> Job:
        """`wait()` awaited: polls with ``arefresh()`` and ``asyncio.sleep`` (Django's ``a``
        prefix would make ``await``, a keyword: hence the underscore)."""
        import asyncio

        if poll <= 0:
            raise InvalidInputError("poll must be a positive number of seconds")
        self._amanager("await_")  # a job a sync Client loaded: refused now, not after a poll
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        interval = poll
        while not self.is_finished:
            if deadline is not None and loop.time() >= deadline:
                raise JobTimeoutError(f"job {self.id} still {self.status} after {timeout}s")
            pause = interval if deadline is None else min(interval, deadline - loop.time())
            await asyncio.sleep(max(0.0, pause))
            interval = min(interval * 1.5, 10.0)
            await self.arefresh()
        if self.status != JobStatus.SUCCEEDED:
            raise JobFailed(self, await self.alogs())
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Poll until the job finishes; raise [`JobFailed`][synapse.errors.JobFailed] if it failed.

        Polls start every ``poll`` seconds and back off to at most 10 s; ``timeout`` counts
        the seconds waited between polls. The waits go through the client's retry policy
        ``sleep`` (one injectable sleep: a test's can move a local backend's clock).
        """
        if poll <= 0:
            raise InvalidInputError("poll must be a positive number of seconds")
        sleep = self._bound_client().transport.policy.sleep
        waited = 0.0
        interval = poll
        while not self.is_finished:
            if timeout is not None and waited >= timeout:
                raise JobTimeoutError(f"job {self.id} still {self.status} after {timeout}s")
            pause = interval if timeout is None else min(interval, timeout - waited)
            sleep(pause)
            waited += pause
            interval = min(interval * 1.5, 10.0)
            self.refresh()
        if self.status != JobStatus.SUCCEEDED:
            raise JobFailed(self, self.logs())
        return self


class Storage(Resource):
    """Where files live: Synapse's own storage or a bucket of the tenant."""

    _repr_fields = ("id", "name", "provider")

    name: str | None = None
    category: TolerantStorageCategory | None = None
    provider: TolerantStorageProvider | None = None
    configuration: JsonDict | None = Field(None, repr=False)
    is_default: bool | None = None


# --------------------------------------------------------------------------- managers


class AgentManager(ListMixin[Agent]):
    """``client.agents``."""

    name = "agents"

    def health_check(self, token: str) -> Any:
        """Ask the backend to check the agent with this token (``agents/{token}/connect/``)."""
        return drive(self.client.transport, self._health_check_steps(token))

    async def ahealth_check(self, token: str) -> Any:
        """`health_check` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "ahealth_check")
        return await client._adrive(self._health_check_steps(token))

    def _health_check_steps(self, token: str) -> Generator[Send, Any, Any]:
        """`health_check` as steps (the token checked to be one path segment now)."""
        return sent(Call("POST", build_path("agents/{}/connect/", token)))


class PluginManager(
    GetMixin[Plugin],
    ListMixin[Plugin],
    CreateMixin[Plugin],
    UpdateMixin[Plugin],
    DeleteMixin[Plugin],
):
    """``client.plugins``."""

    name = "plugins"

    def _run_json(self, ref: PathParam, body: Mapping[str, Any]) -> Any:
        """POST ``plugins/{id or code}/run/`` with ``body``; the answer as sent (a job, or
        an action's direct result)."""
        return self.client.transport.answer(self._run_call(ref, body))

    def _run_call(self, ref: PathParam, body: Mapping[str, Any]) -> Call:
        return Call("POST", run_path(ref), data=dict(body))

    def run(
        self,
        plugin: PathParam | Plugin,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        agent: int | Agent | None = None,
        storage: int | Storage | None = None,
        version: str | None = None,
        job_id: int | None = None,
        debug: bool | None = None,
        language: str = "ko",
    ) -> Job:
        """Run a plugin given by id, code or object; returns the started
        [`Job`][synapse.resources.integration.Job]."""
        options = RunOptions(action, params, agent, storage, version, job_id, debug, language)
        return drive(self.client.transport, self._run_steps(plugin, options))

    async def arun(
        self,
        plugin: PathParam | Plugin,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        agent: int | Agent | None = None,
        storage: int | Storage | None = None,
        version: str | None = None,
        job_id: int | None = None,
        debug: bool | None = None,
        language: str = "ko",
    ) -> Job:
        """`run` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "arun")
        options = RunOptions(action, params, agent, storage, version, job_id, debug, language)
        job: Job = await client._adrive(self._run_steps(plugin, options))
        return job

    def _run_steps(
        self, plugin: PathParam | Plugin, options: RunOptions
    ) -> Generator[Send, Any, Job]:
        """`run` as steps (the reference and options checked now); the started job."""
        ref = plugin.pk if isinstance(plugin, Plugin) else plugin
        return self._ran(self._run_call(ref, options.body()))

    def _ran(self, call: Call) -> Generator[Send, Any, Job]:
        jobs: JobManager = self.client.manager_for(Job)
        job: Job = jobs._build((yield from sent(call)))
        return job


def console_logs_path(pk: PathParam) -> str:
    """The path of a job's console log (checked before anything is sent)."""
    return build_path("jobs/{}/console_logs/", pk)


def log_lines(answer: Any) -> list[str]:
    """A console log answer as lines of text: a list, or ``{"logs": [...]}`` /
    ``{"results": [...]}``, or one text."""
    if isinstance(answer, Mapping):
        answer = answer.get("logs", answer.get("results", []))
    if isinstance(answer, list):
        return [item if isinstance(item, str) else str(item) for item in answer]
    return [str(answer)] if answer else []


def run_path(ref: PathParam) -> str:
    """The path that runs a plugin given by id or code (checked before anything is sent)."""
    return build_path("plugins/{}/run/", ref)


@dataclass(frozen=True)
class RunOptions:
    """The options of a plugin run, declared once: `Plugin.run`, `PluginManager.run` and
    the method API's ``run_plugin`` take exactly these (a test checks their signatures
    against this declaration), and `body` is the one place they become the wire's."""

    action: str | None = None
    params: Mapping[str, Any] | None = None
    agent: int | Agent | None = None
    storage: int | Storage | None = None
    version: str | None = None
    job_id: int | None = None
    debug: bool | None = None
    language: str = "ko"

    #: Wire names that differ from the option's name.
    WIRE: ClassVar[Mapping[str, str]] = {"storage": "storage_id"}

    @classmethod
    def wire_names(cls) -> dict[str, str]:
        """The wire's name of each option, by option name."""
        return {f.name: cls.WIRE.get(f.name, f.name) for f in fields(cls)}

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> RunOptions:
        """The options of a wire-shaped body (``storage_id``...); other keys are ignored."""
        given = {name: body[wire] for name, wire in cls.wire_names().items() if wire in body}
        return cls(**given)

    def body(self) -> dict[str, Any]:
        """The body of ``plugins/{id}/run/``: only the fields given, ``language`` always."""
        values: dict[str, Any] = {}
        for name, wire in self.wire_names().items():
            value = getattr(self, name)
            if isinstance(value, Resource):
                value = value.pk
            elif name == "params" and value is not None:
                value = dict(value)
            if value is not None:
                values[wire] = value
        for wire in ("agent", "storage_id", "job_id"):
            value = values.get(wire)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInputError(f"{wire} must be an int id, got {value!r}")
        return values


class PluginReleaseManager(
    GetMixin[PluginRelease], ListMixin[PluginRelease], CreateMixin[PluginRelease]
):
    """``client.plugin_releases``; ``get()`` takes an id or ``"code@version"``."""

    name = "plugin_releases"

    def create(
        self,
        *,
        file: str | os.PathLike[str] | IO[bytes] | None = None,
        **fields: Any,
    ) -> PluginRelease:
        """Create a release: ``create(plugin="code", version="1.0.0", file=path, config=...)``.

        JSON without a file; multipart with one (``config`` as a JSON string,
        ``requirements`` as repeated fields), as the backend expects.
        """
        return self._build(drive(self.client.transport, self._create_steps(file=file, **fields)))

    def _create_steps(
        self,
        *,
        file: str | os.PathLike[str] | IO[bytes] | None = None,
        **fields: Any,
    ) -> Generator[Any, Any, Any]:
        """The creation as steps for either client's driver (checked now): the plugin's
        code looked up when given by id (the wire names a plugin by its code), then one
        POST; the release's JSON."""
        fields = self._checked_names(fields)
        plugin = fields.get("plugin")
        if isinstance(plugin, Plugin):
            fields["plugin"] = plugin = plugin._require_code()
        by_id = isinstance(plugin, int) and not isinstance(plugin, bool)
        if not by_id and (not isinstance(plugin, str) or not plugin):
            raise InvalidInputError("plugin must be the plugin's code, its id, or the Plugin")
        if not isinstance(fields.get("version"), str) or not fields["version"]:
            raise InvalidInputError("a release needs version=")
        part = check_readable(file) if isinstance(file, (str, os.PathLike)) else file
        lookup = None
        if isinstance(plugin, int) and by_id:
            plugins: PluginManager = self.client.manager_for(Plugin)
            lookup = plugins._get_steps(plugin)
        return self._released(lookup, fields, part)

    def _released(
        self,
        lookup: Generator[Any, Any, Plugin] | None,
        fields: dict[str, Any],
        part: Path | IO[bytes] | None,
    ) -> Generator[Any, Any, Any]:
        if lookup is not None:
            fields["plugin"] = (yield from lookup)._require_code()
        body = {k: v for k, v in {"debug": False, **fields}.items() if v is not None}
        if part is None:
            return (yield Send(self._create_call(body)))
        return (yield Send(self._create_call(body, files={"file": part})))


class JobManager(GetMixin[Job], ListMixin[Job], UpdateMixin[Job]):
    """``client.jobs``."""

    name = "jobs"

    def console_logs(self, pk: PathParam) -> Any:
        """``GET jobs/{pk}/console_logs/``, as the server sends it."""
        return drive(self.client.transport, self._console_logs_steps(pk))

    async def aconsole_logs(self, pk: PathParam) -> Any:
        """`console_logs` awaited (an ``AsyncClient``'s manager)."""
        return await awaiting(self.client, "aconsole_logs")._adrive(self._console_logs_steps(pk))

    def _console_logs_steps(self, pk: PathParam) -> Generator[Send, Any, Any]:
        return sent(Call("GET", console_logs_path(pk)))

    def create_logs(self, body: Any) -> Any:
        """``POST logs/``: log entries of jobs (one object, or a list)."""
        return drive(self.client.transport, sent(self._create_logs_call(body)))

    async def acreate_logs(self, body: Any) -> Any:
        """`create_logs` awaited (an ``AsyncClient``'s manager)."""
        return await awaiting(self.client, "acreate_logs")._adrive(
            sent(self._create_logs_call(body))
        )

    def _create_logs_call(self, body: Any) -> Call:
        return Call("POST", "logs/", data=body)


class StorageManager(GetMixin[Storage], ListMixin[Storage], CreateMixin[Storage]):
    """``client.storages``; ``get()`` includes the configuration."""

    name = "storages"

    def create(self, **fields: Any) -> Storage:
        """Create a storage. ``name`` and ``provider`` are required; ``category``
        ([`StorageCategory`][synapse.enums.StorageCategory]) may be left to the server's
        default. A provider the SDK does not list is sent as given, with an
        [`UnknownValueWarning`][synapse.errors.UnknownValueWarning]: the server may know
        more providers than the SDK."""
        return self._build(drive(self.client.transport, self._create_steps(**fields)))

    def _create_steps(self, **fields: Any) -> Generator[Any, Any, Any]:
        """`create` as steps for either client's driver (checked now): one POST."""
        fields = self._checked_names(fields, warn=False)  # (`_body` warns, below)
        for name in ("name", "provider"):
            if fields.get(name) in (None, ""):
                raise InvalidInputError(f"a storage needs {name}=")
        if fields.get("category") is not None:
            fields["category"] = require_enum(StorageCategory, fields["category"], field="category")
        provider = parse_enum(StorageProvider, fields["provider"])
        if not isinstance(provider, StorageProvider):
            if not isinstance(fields["provider"], str):
                raise InvalidInputError(f"provider must be a string, got {fields['provider']!r}")
            known = ", ".join(p.value for p in StorageProvider)
            warnings.warn(
                f"storage provider {provider!r} is not one the SDK knows ({known}); "
                "sending it as given",
                UnknownValueWarning,
                stacklevel=3,
            )
        fields["provider"] = provider
        return sent(self._create_call(self._body(fields)))
