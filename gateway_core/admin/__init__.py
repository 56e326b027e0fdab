"""The admin API under ``/admin/api``: operators' view of and control over the gateway."""

from gateway_core.admin.routes import admin_blueprint

__all__ = ["admin_blueprint"]
