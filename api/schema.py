"""How the OpenAPI schema describes the portal's token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (ptk_...) from your profile page.",
        }


# The refusals every operation may answer with, as api.errors shapes them: {"detail": ...}
# plus, for bad input, {"errors": {field: [...]}}.
_REFUSALS = {
    "400": "The input was refused; `errors` names each field's problem.",
    "401": "No valid token or session (missing, unknown, revoked or expired).",
    "403": "Your role may not do this.",
    "404": "No such object, or not one of yours; also a cursor that is not valid.",
}
_CHANGE_REFUSALS = {
    "409": "Not possible in the object's current state; the sentence says why.",
    "412": "The object changed since you read it: `If-Match` no longer matches its ETag.",
    "428": "Send `If-Match` with the ETag you read, so two scripts can't overwrite each other.",
    "429": "Too many changes (the pages' limit); `Retry-After` says when to try again.",
}


def document_refusals(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents its error answers."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Refusal",
        {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["detail"],
        },
    )
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            refusals = dict(_REFUSALS)
            if method in ("post", "put", "patch", "delete"):
                refusals.update(_CHANGE_REFUSALS)
            responses = operation.setdefault("responses", {})
            for status, description in refusals.items():
                responses.setdefault(status, {"description": description, "content": body})
    return result
