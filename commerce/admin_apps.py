from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """Django's admin with the back office's site (``commerce.admin_site.BackOfficeSite``) as ``admin.site``."""

    default_site = "commerce.admin_site.BackOfficeSite"
