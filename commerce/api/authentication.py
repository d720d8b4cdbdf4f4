"""How API callers prove who they are."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, reading the user's customer profile in the same query.

    Every storefront request asks for the caller's customer (and placing an order for its
    organization): one query for the token, the user, the customer and the organization instead of three.
    """

    def authenticate_credentials(self, key):
        model = self.get_model()
        related = model.objects.select_related("user", "user__customer", "user__customer__organization")
        try:
            token = related.get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
