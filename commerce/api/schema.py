"""The OpenAPI schema as a contract: operation ids, error responses, the error body and its codes.

Every operation documents the errors it can answer with the one error body, generated here rather
than repeated on each view: 400 always (bad input, a NUL byte in the query string), 401 and 403 where
authentication is required, 404 where the path names an object, 409 for changes, 429 where a
throttle applies, and what a view adds in ``error_statuses`` (402 where a payment can be declined).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from commerce.errors import ApplicationError

ERROR_DESCRIPTIONS = {
    "400": "Invalid input (validation_error).",
    "401": "No or invalid credentials (not_authenticated).",
    "402": "The payment was declined (payment_declined).",
    "403": "Not allowed (permission_denied).",
    "404": "No such object, not the caller's, or no such page (not_found).",
    "409": "Refused in the current state (invalid_transition, insufficient_inventory, ...).",
    "429": "Too many requests (throttled); details.retry_after_seconds says when to retry.",
}
# Codes the API answers with besides those of the ApplicationError family.
FRAMEWORK_ERROR_CODES = {
    "validation_error",
    "not_authenticated",
    "permission_denied",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "throttled",
    "server_error",
}
METHOD_ACTIONS = {"put": "update", "patch": "partial_update", "delete": "destroy"}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code (see ErrorCodeEnum).")
    message = serializers.CharField(help_text="What went wrong, naming the field at fault.")
    details = serializers.DictField(help_text="Structured details: the fields at fault, the order, ...")


class ErrorResponseSerializer(serializers.Serializer):
    """The body of every error answer."""

    error = ErrorSerializer()


def error_codes() -> list[str]:
    """Every error code the API can answer with, from the error family as loaded."""
    codes = set(FRAMEWORK_ERROR_CODES)
    pending = [ApplicationError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


class AutoSchema(SpectacularAutoSchema):
    """Operation ids that read as verbs, and the error responses of every operation."""

    def _path_tokens(self) -> tuple[list[str], bool]:
        parts = [part for part in self.path.strip("/").split("/") if part]
        if parts[:2] == ["api", "v1"]:
            parts = parts[2:]
        ends_in_action = len(parts) >= 2 and not parts[-1].startswith("{") and parts[-2].startswith("{")
        tokens = [part.replace("-", "_").replace(".", "_") for part in parts if not part.startswith("{")]
        return tokens, ends_in_action

    def _declares_status(self, code: str) -> bool:
        responses = self.get_response_serializers()
        return isinstance(responses, dict) and any(
            str(key[0] if isinstance(key, tuple) else key) == code for key in responses
        )

    def get_operation_id(self) -> str:
        tokens, ends_in_action = self._path_tokens()
        method = self.method.lower()
        if method == "get":
            action = "list" if self._is_list_view() else "retrieve"
        elif method == "post":
            # POST /orders/{number}/cancel/ is orders_cancel; POST /orders/ is orders_create.
            action = "" if ends_in_action and not self._declares_status("201") else "create"
        else:
            action = METHOD_ACTIONS.get(method, method)
        return "_".join(tokens + ([action] if action else []))

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # A nested list's bounds, which drf-spectacular leaves out: [] is refused where it is.
            minimum = field.min_length if field.min_length is not None else (0 if field.allow_empty else 1)
            if minimum:
                schema["minItems"] = minimum
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _error_statuses(self) -> list[str]:
        statuses = {"400"}
        if self.view.get_permissions() or self.view.get_authenticators():
            statuses |= {"401", "403"}
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            statuses.add("404")  # an object the path names, or a page past the last
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            statuses.add("409")
        if self.view.get_throttles():
            statuses.add("429")
        extra = getattr(self.view, "error_statuses", {})
        statuses |= {str(code) for code in extra.get(self.method.lower(), ())}
        return sorted(statuses)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_statuses():
            if code not in responses:
                response = self._get_response_for_code(ErrorResponseSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return dict(sorted(responses.items()))


class TokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <key>``, the key from ``POST /api/v1/auth/token/``."""

    target_class = "rest_framework.authentication.TokenAuthentication"
    match_subclasses = True  # the project's own (commerce.api.authentication) among them
    name = "Token"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Send "Authorization: Token <key>"; get the key from POST /api/v1/auth/token/.',
        }


def error_codes_hook(result, generator, request, public):
    """Make the error body's ``code`` an enum of every code the API answers with."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorCodeEnum"] = {"type": "string", "enum": error_codes(), "description": "Every error code."}
    if "Error" in schemas:
        schemas["Error"]["properties"]["code"] = {"$ref": "#/components/schemas/ErrorCodeEnum"}
    return result
