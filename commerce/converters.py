"""URL path converters shared by every app's routes."""

from django.urls import register_converter


class KeyConverter:
    """A natural key in a path (order number, SKU): any text but a slash or a NUL byte.

    Django's ``str`` converter lets ``%00`` through, which PostgreSQL refuses in a text parameter;
    such a key names nothing, so the route does not match and the answer is a plain 404.
    """

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(KeyConverter, "key")
