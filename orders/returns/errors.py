"""Return failures: the 409 codes of DESIGN section 17."""

from commerce.errors import ApplicationError


class ReturnNotAllowed(ApplicationError):
    """An item cannot be returned: more than shipped or left, outside the window, not returnable."""

    code = "return_not_allowed"
    status_code = 409


class ReturnLocked(ApplicationError):
    """The goods came back or the credit was issued: the return can no longer be changed."""

    code = "return_locked"
    status_code = 409
