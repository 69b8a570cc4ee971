"""The demo story loaded by `junkan demo load`: organisations, grades, trading."""

from demo.organizations import DEMO_LOGINS, DEMO_PASSWORD, load_demo

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "load_demo"]
