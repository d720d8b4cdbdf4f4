"""The product's routes plus one test-only API view that fails unexpectedly, for the 500 error body."""

from django.conf import settings
from django.urls import path
from rest_framework.views import APIView

from commerce.urls import handler404, handler500, urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


class BrokenView(APIView):
    """Fail the way a bug does, with secrets in the exception's message."""

    permission_classes = []

    def get(self, request):
        raise RuntimeError(f"bug: key={settings.SECRET_KEY} db={settings.DATABASES['default']}")


urlpatterns = [path("api/v1/test-only/broken/", BrokenView.as_view()), *urlpatterns]
