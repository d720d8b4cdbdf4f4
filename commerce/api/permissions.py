"""Permission classes for the back-office API: staff, and the Django permission of the action."""

from rest_framework.permissions import BasePermission


class StaffPermission(BasePermission):
    """Staff users holding every Django permission in ``required``."""

    required: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perms(self.required))


def staff_with(*perms: str) -> type[StaffPermission]:
    """Build a permission class requiring staff status and the given permissions."""
    return type("StaffWith_" + "_".join(p.replace(".", "_") for p in perms), (StaffPermission,), {"required": perms})
