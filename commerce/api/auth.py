"""Token login with throttling against password guessing."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import JSONParser
from rest_framework.throttling import ScopedRateThrottle


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')


class LoginView(ObtainAuthToken):
    """Exchange a username and password for an API token."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
    authentication_classes = []
    permission_classes = []
    parser_classes = [JSONParser]
    serializer_class = AuthTokenSerializer

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
