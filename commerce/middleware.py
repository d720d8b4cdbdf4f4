"""Request checks that hold for every page and endpoint."""

from django.http import HttpResponseBadRequest, JsonResponse

from commerce.api.exceptions import error_body

NUL = "\x00"


class RefuseNulBytesMiddleware:
    """Answer 400 to a query string holding a NUL byte.

    No search, filter or lookup means one, and PostgreSQL refuses it in any text parameter: without
    this check an admin list filter or search given ``%00`` would fail with a server error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(NUL in text for key, values in request.GET.lists() for text in [key, *values]):
            message = "The query string contains a NUL byte."
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("validation_error", message), status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
