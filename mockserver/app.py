"""``create_app``: specs loaded once, one route per operation, every request validated.

A request flows one way: route (from the spec) -> vendor admission (credentials, rate limits)
-> scenario (an armed error or fault) -> openapi-core validation -> vendor handler -> store ->
response -> journal. Whatever goes wrong on the way is answered in the vendor's own envelope,
never with Flask's HTML pages or a bare 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException

from . import journal, scenarios
from .admin import ADMIN_PREFIX, AdminApi
from .config import MockConfig
from .errors import RequestProblem, SpecError, VendorError
from .faults import apply_fault
from .specs import ALL_SPECS, VENDOR_SPECS, Operation, load_spec
from .state import MockState
from .store import Store
from .validation import RequestValidator
from .vendors import Call, Handler, VendorApi
from .vendors.gewe import GeweApi
from .vendors.lark import LarkApi
from .vendors.wid import WidApi

VENDOR_CLASSES: dict[str, type[VendorApi]] = {"gewe": GeweApi, "wid": WidApi, "lark": LarkApi}

log = logging.getLogger(__name__)
INTERNAL_ERROR_HEADER = "X-Chatimg-Internal-Error"


def create_app(config: MockConfig | None = None, *, store: Store | None = None) -> Flask:
    """A Flask app serving every operation of the specs, with its own fresh state."""
    config = config or MockConfig.load()
    state = MockState(config, store=config.make_store() if store is None else store)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["chatimg"] = state

    specs = {name: load_spec(name) for name in ALL_SPECS}
    vendors = {name: VENDOR_CLASSES[name](state, specs[name].operations)
               for name in VENDOR_SPECS}
    apis: dict[str, VendorApi] = {
        **vendors, "admin": AdminApi(state, specs["admin"].operations, vendors)}
    routes: dict[str, tuple[VendorApi, Operation]] = {}
    for api in apis.values():
        spec = specs[api.spec_name]
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

    def route_of() -> tuple[VendorApi, Operation | None]:
        rule = request.url_rule
        if rule is not None and rule.endpoint in routes:
            return routes[rule.endpoint]
        return _api_for_path(list(apis.values()), request.path), None

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    if config.journal:
        secrets = journal.Secrets(config.secrets())
        # Entries keep replies as text: the journal reads their vendor codes when it is read.
        state.journal_writer.reply_codes.update(
            {name: api.reply_code for name, api in apis.items()})

        @app.after_request
        def keep_in_journal(response: Response) -> Response:
            # The objects themselves, not their proxies: each use of a proxy costs a lookup.
            current = request._get_current_object()  # type: ignore[attr-defined]
            if not current.path.startswith(ADMIN_PREFIX):
                api, operation = route_of()
                journal.record_exchange(
                    state.journal_writer, request=current, context=g._get_current_object(),
                    response=response, api=api,
                    operation=operation.operation_id if operation else None, secrets=secrets)
            return response

    app.register_error_handler(HTTPException, _http_error_handler(route_of))
    app.register_error_handler(Exception, _unexpected_error_handler(route_of))
    return app


def mock_state(app: Flask) -> MockState:
    """The state behind an app made by ``create_app`` (for tests and the pytest plugin)."""
    return app.extensions["chatimg"]


def _view(api: VendorApi, operation: Operation, validator: RequestValidator,
          handler: Handler) -> Callable[..., Response]:
    scenarios_apply = api.spec_name in VENDOR_SPECS  # not to the mock's own routes

    def view(**_path: str) -> Response:
        directive = None
        current = request._get_current_object()  # once: each use of the proxy costs a lookup
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


def _api_for_path(apis: list[VendorApi], path: str) -> VendorApi:
    for api in apis:
        if path.startswith(api.path_prefixes):
            return api
    return next(api for api in apis if api.spec_name == "wid")  # wid's one route is at the root


def _http_error_handler(route_of: Callable[[], tuple[VendorApi, Operation | None]]
                        ) -> Callable[[HTTPException], Response]:
    """Unknown paths and methods, in the envelope of the vendor the path belongs to."""

    def handle(error: HTTPException) -> Response:
        api, _ = route_of()
        problem = RequestProblem("path", None, "invalid",
                                 f"{error.code} {error.name}: {request.method} {request.path}")
        return api.finish(api.rejection(None, problem).to_response())

    return handle


def _unexpected_error_handler(route_of: Callable[[], tuple[VendorApi, Operation | None]]
                              ) -> Callable[[Exception], Response]:
    """A bug of the mock still answers in the vendor's envelope, and is logged with its trace."""

    def handle(error: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        api, operation = route_of()
        problem = RequestProblem("body", None, "invalid",
                                 f"internal error of the mock: {type(error).__name__}")
        response = api.finish(api.rejection(operation, problem).to_response())
        # In the vendor's envelope for the bot, but marked, so tests and the contract kit
        # can tell a bug of the mock from a refusal.
        response.headers[INTERNAL_ERROR_HEADER] = type(error).__name__
        return response

    return handle
