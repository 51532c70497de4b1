"""The Python plugin SDK: write a testflow (or TestMesh) plugin in a few lines.

.. code-block:: python

    from pydantic import BaseModel
    from testflow.plugins.sdk import Context, Plugin, PluginError

    plugin = Plugin(id="text", name="Text tools", version="1.0.0")

    class Upper(BaseModel):
        text: str

    @plugin.action("upper", model=Upper, description="Upper-case a text")
    def upper(config: Upper, ctx: Context) -> dict:
        ctx.log(f"upper-casing {len(config.text)} characters")
        return {"text": config.text.upper()}

    if __name__ == "__main__":
        plugin.serve()

The server is the standard library's (``http.server``), bound to 127.0.0.1 on
``PLUGIN_PORT``; pydantic is used only for the models you give. Action names without a dot
are prefixed with the plugin id (``upper`` -> ``text.upper``). Handlers may be ``async``.

Other plugin types register one handler each: :meth:`Plugin.auth`, :meth:`Plugin.importer`,
:meth:`Plugin.exporter`, :meth:`Plugin.reporter`; the host calls them through ``POST
/execute`` with the reserved actions ``authenticate``, ``import``, ``export`` and ``report``
(see docs/plugins.md for each request and answer).
"""

from __future__ import annotations

from testflow.plugins.sdk.core import (
    AUTH_ACTION,
    EXPORT_ACTION,
    IMPORT_ACTION,
    REPORT_ACTION,
    Context,
    Plugin,
    PluginError,
)

__all__ = [
    "AUTH_ACTION",
    "EXPORT_ACTION",
    "IMPORT_ACTION",
    "REPORT_ACTION",
    "Context",
    "Plugin",
    "PluginError",
]
