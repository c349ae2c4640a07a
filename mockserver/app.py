"""``create_app``: specs loaded once, one route per operation, every request validated.

A request flows one way: route (from the spec) -> vendor authentication -> openapi-core
validation -> vendor handler -> store -> response. Whatever goes wrong on the way is answered
in the vendor's own envelope, never with Flask's HTML pages or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .admin import AdminApi
from .config import MockConfig
from .errors import RequestProblem, SpecError, VendorError
from .specs import ALL_SPECS, Operation, load_spec
from .state import MockState
from .store import Store
from .validation import RequestValidator
from .vendors import Call, Handler, VendorApi
from .vendors.gewe import GeweApi
from .vendors.lark import LarkApi
from .vendors.wid import WidApi

API_CLASSES: dict[str, type[VendorApi]] = {
    "gewe": GeweApi, "wid": WidApi, "lark": LarkApi, "admin": AdminApi}

log = logging.getLogger(__name__)


def create_app(config: MockConfig | None = None, *, store: Store | None = None) -> Flask:
    """A Flask app serving every operation of the specs, with its own fresh state."""
    config = config or MockConfig.load()
    state = MockState(config) if store is None else MockState(config, store=store)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["chatimg"] = state

    apis = [API_CLASSES[name](state) for name in ALL_SPECS]
    routes: dict[str, tuple[VendorApi, Operation]] = {}
    for api in apis:
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

    app.register_error_handler(HTTPException, _http_error_handler(apis))
    app.register_error_handler(Exception, _unexpected_error_handler(apis, routes))
    return app


def mock_state(app: Flask) -> MockState:
    """The state behind an app made by ``create_app`` (for tests and the pytest plugin)."""
    return app.extensions["chatimg"]


def _view(api: VendorApi, operation: Operation, validator: RequestValidator,
          handler: Handler) -> Callable[..., Response]:
    def view(**_path: str) -> Response:
        try:
            principal = api.authenticate(operation, request)
            valid = validator.validate(operation, request)
            response = handler(Call(operation, request, valid, principal))
        except RequestProblem as problem:
            response = api.rejection(operation, problem).to_response()
        except VendorError as error:
            response = error.to_response()
        return api.finish(response)

    view.__name__ = operation.operation_id
    return view


def _api_for_path(apis: list[VendorApi], path: str) -> VendorApi:
    for api in apis:
        if path.startswith(api.path_prefixes):
            return api
    return next(api for api in apis if api.spec_name == "wid")  # wid's one route is at the root


def _http_error_handler(apis: list[VendorApi]) -> Callable[[HTTPException], Response]:
    """Unknown paths and methods, in the envelope of the vendor the path belongs to."""

    def handle(error: HTTPException) -> Response:
        api = _api_for_path(apis, request.path)
        problem = RequestProblem("path", None, "invalid",
                                 f"{error.code} {error.name}: {request.method} {request.path}")
        return api.finish(api.rejection(None, problem).to_response())

    return handle


def _unexpected_error_handler(apis: list[VendorApi], routes: dict[str, tuple[VendorApi, Operation]]
                              ) -> Callable[[Exception], Response]:
    """A bug of the mock still answers in the vendor's envelope, and is logged with its trace."""

    def handle(error: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        rule = request.url_rule
        api, operation = routes.get(rule.endpoint if rule else "",
                                    (_api_for_path(apis, request.path), None))
        problem = RequestProblem("body", None, "invalid",
                                 f"internal error of the mock: {type(error).__name__}")
        return api.finish(api.rejection(operation, problem).to_response())

    return handle
