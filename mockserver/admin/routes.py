"""The mock's own routes (specs/admin.yaml): play the users' side, inspect and reset state."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from flask import Request, Response

from ..data_files import data_dir, kit_version
from ..errors import RequestProblem
from ..incoming import request_origin
from ..runtime import journal, scenarios
from ..runtime.clock import ClockError
from ..runtime.file_links import FILES_PREFIX, file_response
from ..runtime.journal import mask
from ..runtime.state import MockState
from ..specs import Operation
from ..storage.records import Delivery, Rule, Subscription
from ..vendors.base import Call, Handler, VendorApi, json_response
from ..vendors.user_side import AdminError, delivery_view
from . import images
from .access import ADMIN_TOKEN_HEADER, DASHBOARD_PATH, LINK_PARAMETER, check_token, token_cookie
from .dashboard import INDEX, ui_file_response

ADMIN_PREFIX = "/__admin/"
# Fixture files a user may send as a picture (the folder also holds one that is not).
FIXTURE_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".tiff", ".bmp", ".heic")
DASHBOARD = "getDashboard"  # the page, whose link may carry the admin token


class AdminApi(VendorApi):
    """The mock's own routes; the vendors add those that play their users."""

    spec_name = "admin"
    is_vendor = False
    secret_headers = (ADMIN_TOKEN_HEADER,)
    base_paths = (ADMIN_PREFIX.rstrip("/"),)
    path_prefixes = (ADMIN_PREFIX, FILES_PREFIX)

    def __init__(self, state: MockState, operations: tuple[Operation, ...],
                 vendors: Mapping[str, VendorApi]):
        super().__init__(state, operations)
        self.vendors = vendors
        self._thumbnails = images.Thumbnails()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "getIndex": self.get_index, "getSpec": self.get_spec, "getStore": self.get_store,
            "resetState": self.reset_state, "getCredentials": self.get_credentials,
            "listImages": self.list_images, "listImagesByAccount": self.list_images_by_account,
            "getStoredImage": self.get_stored_image,
            "getImageCopy": self.get_image_copy, "listFixtures": self.list_fixtures,
            DASHBOARD: self.get_dashboard, "getDashboardFile": self.get_dashboard_file,
            "getFile": self.get_file, "getJournal": self.get_journal,
            "clearJournal": self.clear_journal, "listRules": self.list_rules,
            "armRule": self.arm_rule, "deleteRule": self.delete_rule,
            "getClock": self.get_clock, "moveClock": self.move_clock,
            "listDeliveries": self.list_deliveries, "replayDelivery": self.replay_delivery,
            "listSubscriptions": self.list_subscriptions,
        } | {operation_id: handler for vendor in self.vendors.values()
             for operation_id, handler in vendor.admin_handlers().items()}

    def admit(self, operation: Operation, request: Request) -> None:
        token = self.state.config.admin_token
        if token and operation.path.startswith(ADMIN_PREFIX):
            check_token(request, token, link=operation.operation_id == DASHBOARD,
                        public_url=self.state.config.public_url)

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> AdminError:
        return AdminError(400, problem.detail)

    def unavailable(self, detail: str) -> AdminError:
        return AdminError(503, detail)

    def no_route(self, status: int, detail: str) -> AdminError:
        return AdminError(status, f"{detail}; GET / lists the routes")

    @cached_property
    def _version(self) -> str:
        return kit_version()  # (read from the installed metadata: milliseconds each time)

    def get_index(self, call: Call) -> Response:
        origin = request_origin(call.request)
        return json_response({
            "name": "chatimg mock", "version": self._version,
            "dashboard": origin + DASHBOARD_PATH, "apis": {
                api.spec_name: {
                    "base_urls": [origin + path for path in api.base_paths],
                    "spec": f"{origin}{ADMIN_PREFIX}specs/{api.spec_name}.yaml",
                    "operations": [{"operationId": op.operation_id, "method": op.method,
                                    "path": op.path, "errors": list(api.error_names(op))}
                                   for op in api.operations]}
                for api in (*self.vendors.values(), self)}})

    def get_dashboard(self, call: Call) -> Response:
        """The page; opened by its link (``?token=``), the admin token goes in a cookie and
        the browser comes back without it in the address."""
        if LINK_PARAMETER not in call.valid.query:
            return ui_file_response(INDEX, call.request)
        response = Response(status=303, headers={"Location": DASHBOARD_PATH,
                                                 "Cache-Control": "no-store"})
        del response.headers["Content-Type"]  # (no body)
        token = self.state.config.admin_token
        if token:  # (checked by admit)
            response.headers["Set-Cookie"] = token_cookie(token)
        return response

    def get_dashboard_file(self, call: Call) -> Response:
        return ui_file_response(call.valid.path["asset"], call.request)

    def list_fixtures(self, call: Call) -> Response:
        folder = data_dir("fixtures") / "images"
        return json_response({"fixtures": sorted(
            entry.name for entry in folder.iterdir()
            if entry.is_file() and entry.name.lower().endswith(FIXTURE_IMAGE_SUFFIXES))})

    def get_spec(self, call: Call) -> Response:
        text = (data_dir("specs") / call.valid.path["name"]).read_text(encoding="utf-8")
        return Response(text, 200, content_type="application/yaml; charset=utf-8")

    def reset_state(self, call: Call) -> Response:
        self.state.reset()
        return json_response({"reset": True})

    def get_credentials(self, call: Call) -> Response:
        return json_response(self.state.config.credentials())

    def get_store(self, call: Call) -> Response:
        stores = (self.state.store, self.state.journal_writer.store)
        counts = [store.round_trips for store in stores if store.round_trips is not None]
        return json_response({"kind": self.state.store.kind, "shared": self.state.store.shared,
                              "round_trips": sum(counts) if counts else None})

    def list_images(self, call: Call) -> Response:
        return json_response(images.listing(self.state.store, call.valid.query))

    def list_images_by_account(self, call: Call) -> Response:
        accounts = {name: api.settings.accounts() if api.settings else ()
                    for name, api in self.vendors.items()}
        return json_response(images.by_account(self.state.store, accounts,
                                               call.valid.query["limit"]))

    def get_stored_image(self, call: Call) -> Response:
        image = images.find_image(self.state.store, call.valid.path["vendor"],
                                  call.valid.path["image_id"])
        return json_response(images.detail(self.state.store, image,
                                           self.vendors.get(image.vendor)))

    def get_image_copy(self, call: Call) -> Response:
        path = call.valid.path
        image = images.find_image(self.state.store, path["vendor"], path["image_id"])
        return images.copy_response(self.state.store, image, path["copy"], self._thumbnails)

    def get_file(self, call: Call) -> Response:
        return file_response(self.state, call.valid.path["file_id"])

    def get_journal(self, call: Call) -> Response:
        query = call.valid.query
        try:
            entries = journal.query(
                self.state.journal_writer, operation=query.get("operation"),
                api=query.get("api"), limit=query.get("limit"), status=query.get("status"),
                after=query.get("after"), newest_first=query.get("order") == "newest")
        except ValueError as exc:
            raise AdminError(400, str(exc)) from exc
        return json_response({"entries": [_journal_entry(e) for e in entries]})

    def clear_journal(self, call: Call) -> Response:
        return json_response({"cleared": journal.clear(self.state.journal_writer)})

    def list_rules(self, call: Call) -> Response:
        return json_response({"rules": [_rule(r) for r in self.state.store.records(Rule)]})

    def arm_rule(self, call: Call) -> Response:
        body = call.body
        if ("error" in body) == ("fault" in body):
            raise AdminError(400, "a rule needs exactly one of error (a vendor code or name) "
                                  "or fault")
        operations = self._operations_named(body["operation"])
        if "error" in body:
            known = sorted({name for vendor, operation in operations
                            for name in vendor.error_names(operation)})
            if body["error"] not in known:
                raise AdminError(400, f"{body['operation']} cannot answer error "
                                      f"{body['error']!r}; known: {', '.join(known)}")
            action: dict[str, Any] = {"error": body["error"]}
        else:
            action = dict(body["fault"])
        try:
            rule = scenarios.arm(self.state.store, operation=body["operation"], action=action,
                                 match=body.get("match"), times=body.get("times"),
                                 now=self.state.clock.now())
        except scenarios.ScenarioError as exc:
            raise AdminError(400, str(exc)) from exc
        return json_response(_rule(rule), 201)

    def _operations_named(self, name: str) -> list[tuple[VendorApi, Operation]]:
        """The vendor operations a rule's ``operation`` names: an operationId, '<api>.*', '*'."""
        api_name, dot, rest = name.partition(".")
        found = [(vendor, operation) for vendor_name, vendor in self.vendors.items()
                 for operation in vendor.operations
                 if name == "*" or name == operation.operation_id
                 or (dot and rest == "*" and api_name == vendor_name)]
        if not found:
            raise AdminError(400, f"no operation {name!r}; use an operationId of the specs, "
                                  f"'<api>.*' ({', '.join(self.vendors)}) or '*'")
        return found

    def delete_rule(self, call: Call) -> Response:
        rule_id = call.valid.path["rule_id"]
        if self.state.store.load(Rule, rule_id) is None:
            raise AdminError(404, f"no rule {rule_id}")
        self.state.store.delete(Rule, rule_id)
        return json_response({"deleted": rule_id})

    def get_clock(self, call: Call) -> Response:
        return json_response({"now": self.state.clock.now(), "offset": self.state.clock.offset()})

    def move_clock(self, call: Call) -> Response:
        body = call.body
        if ("advance" in body) == ("set" in body):
            raise AdminError(400, "give exactly one of advance (seconds) or set (epoch seconds)")
        try:
            if "advance" in body:
                self.state.clock.advance(body["advance"])
            else:
                self.state.clock.set(body["set"])
        except ClockError as exc:
            raise AdminError(400, str(exc)) from exc
        return self.get_clock(call)

    def list_subscriptions(self, call: Call) -> Response:
        return json_response({"subscriptions": [
            {"vendor": s.vendor, "url": s.url,
             "account": mask(s.account) if self.vendors[s.vendor].account_is_secret else s.account,
             "encrypted": bool(s.options.get("encrypt_key"))}
            for s in self.state.store.records(Subscription)]})

    def list_deliveries(self, call: Call) -> Response:
        deliveries = sorted(self.state.store.records(Delivery), key=lambda d: d.created_at)
        return json_response({"deliveries": [delivery_view(d) for d in deliveries]})

    def replay_delivery(self, call: Call) -> Response:
        delivery_id = call.valid.path["delivery_id"]
        original = self.state.store.load(Delivery, delivery_id)
        if original is None:
            raise AdminError(404, f"no delivery {delivery_id}")
        replayed = self.state.deliverer.replay(
            delivery_id, timeout=self.vendors[original.vendor].callback_timeout,
            wait=call.body.get("wait", True) if isinstance(call.body, dict) else True)
        return json_response(delivery_view(replayed or original))


def _rule(rule: Rule) -> dict[str, Any]:
    return {"id": rule.rule_id, "operation": rule.operation, "match": dict(rule.match),
            "action": dict(rule.action), "remaining": rule.remaining}


def _journal_entry(entry: journal.JournalEntry) -> dict[str, Any]:
    return {"id": entry.entry_id, "time": entry.time, "api": entry.api,
            "operation": entry.operation, "method": entry.method, "path": entry.path,
            "query": entry.query, "requestHeaders": dict(entry.request_headers),
            "requestBody": entry.request_body, "status": entry.status,
            "vendorCode": entry.vendor_code, "responseBody": entry.response_body,
            "durationMs": entry.duration_ms, "scenario": entry.scenario}

