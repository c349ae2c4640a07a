"""``create_app``: specs loaded once, one route per operation, every request validated.

A request flows one way: route (from the spec) -> vendor admission (credentials, rate limits)
-> scenario (an armed error or fault) -> openapi-core validation -> vendor handler -> store ->
response -> journal. Whatever goes wrong on the way is answered in the vendor's own envelope,
never with Flask's HTML pages or a bare 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from ..admin.routes import AdminApi
from ..errors import (
    INTERNAL_ERROR_HEADER,
    RequestProblem,
    SpecError,
    StoreUnavailable,
    VendorError,
)
from ..incoming import REQUESTED_PATH, requested_path
from ..runtime import journal, scenarios
from ..runtime.faults import apply_fault
from ..runtime.file_links import FILES_PREFIX
from ..runtime.state import MockState
from ..specs import Operation, load_spec
from ..storage.store import Store
from ..vendors.base import Call, Handler, VendorApi, json_response
from ..vendors.registry import MockConfig, vendor_apis
from .validation import RequestValidator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


log = logging.getLogger(__name__)
# A line per call (``serve`` shows it unless --quiet): method, path, status, vendor code, ms.
REQUEST_LOG = logging.getLogger("mockserver.requests")
UNAVAILABLE_RETRY_SECONDS = 1  # Retry-After of a 503: Redis restarts in about that long
# A store out of reach is logged once in this long, not at every call it fails.
OUTAGE_LOG_SECONDS = 10.0
JSON_LOGGED_BYTES = 64 * 1024


class _CappedStream(LimitedStream):
    """A streamed (chunked) body, refused once it runs past the cap: Werkzeug's own stops
    reading at the cap and hands on what it read as if it were the whole body."""

    def __init__(self, stream: IO[bytes], cap: int):
        super().__init__(stream, cap + 1, is_max=True)

    def readinto(self, buffer: Any) -> int | None:
        read = super().readinto(buffer)
        if self.tell() >= self.limit:
            raise RequestEntityTooLarge()
        return read


class _Request(Request):
    @cached_property
    def stream(self) -> IO[bytes]:
        cap = self.max_content_length
        if cap is None or self.content_length is not None or \
                "wsgi.input_terminated" not in self.environ:
            return super().stream
        # a binary stream, cast as Werkzeug casts its own LimitedStream
        return cast("IO[bytes]", _CappedStream(self.environ["wsgi.input"], cap))


def create_app(config: MockConfig | None = None, *, store: Store | None = None) -> Flask:
    """A Flask app serving every operation of the specs, with its own fresh state."""
    config = config or MockConfig.load()
    state = MockState(config, store=config.make_store() if store is None else store)
    app = Flask(__name__)
    app.request_class = _Request
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["chatimg"] = state

    vendors = {api.spec_name: api(state, load_spec(api.spec_name).operations) for api in vendor_apis()}
    apis: dict[str, VendorApi] = {
        **vendors, AdminApi.spec_name: AdminApi(state, load_spec(AdminApi.spec_name).operations,
                                                vendors)}
    routes: dict[str, tuple[VendorApi, Operation]] = {}
    for api in apis.values():
        spec = load_spec(api.spec_name)
        validator = RequestValidator(spec)
        handlers = api.handlers()
        missing = {op.operation_id for op in spec.operations} ^ set(handlers)
        if missing:
            raise SpecError(f"{api.spec_name}: operations and handlers differ: {sorted(missing)}")
        for operation in spec.operations:
            view = _view(api, operation, validator, handlers[operation.operation_id])
            app.add_url_rule(operation.flask_rule, operation.operation_id, view,
                             methods=[operation.method])
            routes[operation.operation_id] = (api, operation)

    def route_of() -> tuple[VendorApi | None, Operation | None]:
        rule = request.url_rule
        if rule is not None and rule.endpoint in routes:
            return routes[rule.endpoint]
        return next((api for api in apis.values() if api.owns(request.path)), None), None

    aliases = {alias: prefix for api in apis.values() for alias, prefix in api.path_aliases.items()}
    app.wsgi_app = _PathAliases(app.wsgi_app, aliases)  # type: ignore[method-assign]

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        state.store.begin_request()
        if state.store.shared:  # (in each worker: its sweeper takes over others' retries)
            state.deliverer.start_sweeping()

    @app.teardown_request
    def end(error: BaseException | None) -> None:
        state.store.end_request()

    if config.journal:
        secrets = journal.Secrets(
            config.secrets(), fields={f for api in apis.values() for f in api.secret_fields},
            headers={h for api in apis.values() for h in api.secret_headers})
        state.journal_writer.secrets = secrets
        # Entries keep replies as text: the journal reads their vendor codes when it is read.
        state.journal_writer.reply_codes.update(
            {name: api.reply_code for name, api in apis.items()})
        state.journal_writer.operations.update(
            operation_id for operation_id, (api, operation) in routes.items()
            if _a_bots_call(api, operation.path))

        @app.after_request
        def keep_in_journal(response: Response) -> Response:
            # The objects themselves, not their proxies: each use of a proxy costs a lookup.
            current = request._get_current_object()  # type: ignore[attr-defined]
            api, operation = route_of()
            if api is not None and _a_bots_call(api, current.path):
                journal.record_exchange(
                    state.journal_writer, request=current, context=g._get_current_object(),
                    response=response, api=api,
                    operation=operation.operation_id if operation else None, secrets=secrets)
            return response

    @app.after_request
    def log_request(response: Response) -> Response:
        if REQUEST_LOG.isEnabledFor(logging.INFO):
            api, _ = route_of()
            code = api.reply_code(_json_of(response)) if api is not None else None
            REQUEST_LOG.info("%s %s %s%s %.1f ms", request.method, requested_path(request),
                             response.status_code, "" if code is None else f" code={code}",
                             (time.perf_counter() - g.started) * 1000)
        return response

    unexpected = _unexpected_error_handler(route_of)
    app.register_error_handler(HTTPException, _http_error_handler(route_of, unexpected))
    app.register_error_handler(Exception, unexpected)
    return app


def _a_bots_call(api: VendorApi, path: str) -> bool:
    """What the journal keeps: calls to the vendors, and of the download links they gave."""
    return api.is_vendor or path.startswith(FILES_PREFIX)


def _json_of(response: Response) -> Any:
    """A reply's JSON, where it is small and whole (not a fault's stream)."""
    if response.is_streamed or not response.is_json or \
            (response.content_length or 0) > JSON_LOGGED_BYTES:
        return None
    return response.get_json(silent=True)


def mock_state(app: Flask) -> MockState:
    """The state behind an app made by ``create_app`` (for tests and the pytest plugin)."""
    return app.extensions["chatimg"]


def _view(api: VendorApi, operation: Operation, validator: RequestValidator,
          handler: Handler) -> Callable[..., Response]:
    scenarios_apply = api.is_vendor  # not to the mock's own routes

    def view(**_path: str) -> Response:
        directive = None
        # once: each use of the proxy costs a lookup (Flask types the proxy as a Request)
        current = request._get_current_object()  # type: ignore[attr-defined]
        try:
            directive = _preferred(current) if scenarios_apply else None
            try:
                principal = api.admit(operation, current)
            except VendorError:
                # a refused call still suffers an armed fault (not an armed error: it has one)
                if scenarios_apply:
                    directive = directive or _armed_rule(api, operation, current, None,
                                                         faults_only=True)
                raise
            if scenarios_apply:
                directive = directive or _armed_rule(api, operation, current, principal)
            if directive is not None and directive.error:
                raise _armed_error(api, operation, current, directive.error, principal)
            valid = validator.validate(operation, current)
            response = handler(Call(operation, current, valid, principal))
        except RequestProblem as problem:
            response = api.rejection(operation, problem).to_response()
        except VendorError as error:
            response = error.to_response()
        response = api.finish(response)
        if directive is not None:
            g.scenario = directive.source
            if directive.fault:
                response = apply_fault(directive.fault, response, current.environ)
        return response

    view.__name__ = operation.operation_id
    return view


def _preferred(request: Request) -> scenarios.Directive | None:
    """What this call's Prefer header asks for; applied even to calls that are refused."""
    try:
        return scenarios.parse_prefer(request.headers.get(scenarios.PREFER_HEADER))
    except scenarios.ScenarioError as exc:
        raise RequestProblem("header", scenarios.PREFER_HEADER, "invalid", str(exc)) from exc


def _armed_rule(api: VendorApi, operation: Operation, request: Request, principal: object, *,
                faults_only: bool = False) -> scenarios.Directive | None:
    """The oldest armed rule this call matches and can carry out (a rule for "lark.*" asking
    for 234005 passes over the token endpoint, which has no such error)."""
    names = api.error_names(operation)
    return scenarios.take(api.state.store, api.spec_name, operation.operation_id,
                          lambda: api.scenario_context(request, principal),
                          lambda action: "fault" in action or
                          (not faults_only and action.get("error") in names))


def _armed_error(api: VendorApi, operation: Operation, request: Request, name: str,
                 principal: object) -> VendorError:
    names = api.error_names(operation)
    if name not in names:
        raise RequestProblem("header", scenarios.PREFER_HEADER, "invalid",
                             f"{operation.operation_id} has no error {name!r}; it has "
                             f"{', '.join(names)}")
    return api.armed_error(operation, name, api.scenario_context(request, principal))


class _PathAliases:
    """Serves a vendor's API under another prefix too, as the spec's own paths."""

    def __init__(self, app: WSGIApplication, aliases: Mapping[str, str]):
        self.app = app
        self.aliases = tuple(aliases.items())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        for alias, prefix in self.aliases:
            if path.startswith(alias):  # (PATH_INFO is UTF-8 read as latin-1, per PEP 3333)
                environ[REQUESTED_PATH] = path.encode("latin-1").decode("utf-8", "replace")
                environ["PATH_INFO"] = prefix + path[len(alias):]
                break
        return self.app(environ, start_response)


def _no_route(error: HTTPException) -> Response:
    """A path no API owns: plain JSON, pointing at the index."""
    return json_response({"error": f"{error.code} {error.name}: {request.method} "
                                   f"{requested_path(request)}; GET / lists the routes"},
                         error.code or 404)


def _http_error_handler(route_of: Callable[[], tuple[VendorApi | None, Operation | None]],
                        unexpected: Callable[[Exception], Response]
                        ) -> Callable[[HTTPException], Response]:
    """Unknown paths and methods, in the envelope of the vendor the path belongs to; any
    other HTTP error Flask raises as a refusal of the request, or (5xx: an error of the mock
    outside a view, say in an after_request hook) as the error of the mock it is."""

    def handle(error: HTTPException) -> Response:
        api, operation = route_of()
        if error.code is None or error.code >= 500:
            original = getattr(error, "original_exception", None)
            return unexpected(original if isinstance(original, Exception) else error)
        if error.code not in (404, 405) and api is not None:
            problem = RequestProblem("body", None, "invalid",
                                     f"{error.code} {error.name}: {error.description}")
            return api.finish(api.rejection(operation, problem).to_response())
        if api is None:
            response = _no_route(error)
        else:
            detail = f"{error.code} {error.name}: {request.method} {requested_path(request)}"
            response = api.finish(api.no_route(error.code or 404, detail).to_response())
        if response.status_code == 405 and isinstance(error, MethodNotAllowed) and \
                error.valid_methods:
            # RFC 9110 wants it; sorted, for Werkzeug gives the methods in set order
            response.headers["Allow"] = ", ".join(
                sorted(error.valid_methods, key=lambda method: (method == "OPTIONS", method)))
        return response

    return handle


def _unexpected_error_handler(route_of: Callable[[], tuple[VendorApi | None, Operation | None]]
                              ) -> Callable[[Exception], Response]:
    """A bug of the mock still answers in the vendor's envelope, and is logged with its trace;
    a store out of reach (Redis restarting) is no bug: 503 in that envelope, try again soon."""

    outage = _SeldomLog(OUTAGE_LOG_SECONDS)

    def handle(error: Exception) -> Response:
        api, operation = route_of()
        if isinstance(error, StoreUnavailable):
            outage.warning("%s %s: %s", request.method, request.path, error)
            detail = f"the mock cannot serve for now: {error}"
            response = (json_response({"error": detail}, 503) if api is None
                        else api.finish(api.unavailable(detail).to_response()))
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
            return response
        log.exception("unexpected error serving %s %s", request.method, request.path)
        detail = f"internal error of the mock: {type(error).__name__}"
        if api is None:
            response = json_response({"error": detail}, 500)
        else:
            problem = RequestProblem("body", None, "invalid", detail)
            response = api.finish(api.rejection(operation, problem).to_response())
        # In the vendor's envelope for the bot, but marked, so tests and the contract kit
        # can tell a bug of the mock from a refusal.
        response.headers[INTERNAL_ERROR_HEADER] = type(error).__name__
        return response

    return handle


class _SeldomLog:
    """A warning logged at most once in ``seconds``; the next says how many were left out."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last = -seconds
        self._left_out = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._seconds:
                self._left_out += 1
                return
            left_out, self._left_out, self._last = self._left_out, 0, now
        if left_out:
            message += f" ({left_out} more since the last such line)"
        log.warning(message, *args)
