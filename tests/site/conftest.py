"""The site tests run the CLI in-process like the other labctl tests."""

from tests.labctl.conftest import labctl

__all__ = ["labctl"]
