"""``testflow plugins new NAME --lang py|ts|go``: a working plugin to start from.

Each template is a complete action plugin with one action (``NAME.hello``), written with the
SDK of its language. The TypeScript and Go templates point at the SDKs of this source tree
(``file:`` dependency, ``replace`` directive) when testflow runs from a checkout; otherwise
they name the published SDK and say so in the README.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import testflow
from testflow.plugins.manifest import ID_PATTERN

LANGS = ("py", "ts", "go")

_PY = '''#!/usr/bin/env python3
"""{name}: a testflow action plugin (Python SDK)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from testflow.plugins.sdk import Context, Plugin, PluginError

plugin = Plugin(id="{name}", name="{name}", version="0.1.0")


class HelloConfig(BaseModel):
    name: str = Field(description="Who to greet.")


@plugin.action("hello", model=HelloConfig)
def hello(config: HelloConfig, ctx: Context) -> dict[str, Any]:
    """Return a greeting."""
    if not config.name.strip():
        raise PluginError("EMPTY_NAME", "name is empty")
    ctx.log(f"greeting {{config.name}}")
    return {{"greeting": f"Hello, {{config.name}}!"}}


if __name__ == "__main__":
    plugin.serve()
'''

_TS = """import {{ Plugin, PluginError }} from "@testflow/plugin-sdk";

const plugin = new Plugin({{ id: "{name}", name: "{name}", version: "0.1.0" }});

plugin.action(
  "hello",
  {{
    description: "Return a greeting",
    schema: {{ type: "object", properties: {{ name: {{ type: "string" }} }}, required: ["name"] }},
  }},
  (config: {{ name: string }}, ctx) => {{
    if (!config.name.trim()) throw new PluginError("EMPTY_NAME", "name is empty");
    ctx.log(`greeting ${{config.name}}`);
    return {{ greeting: `Hello, ${{config.name}}!` }};
  }},
);

plugin.serve();
"""

_GO = """package main

import (
\t"log"

\tplugin "testflow.dev/plugin-sdk"
)

func main() {{
\tp := plugin.New("{name}", "{name}", "0.1.0")
\tp.Action("hello", plugin.ActionOptions{{
\t\tDescription: "Return a greeting",
\t\tSchema: plugin.Schema{{
\t\t\t"type":       "object",
\t\t\t"properties": map[string]any{{"name": map[string]any{{"type": "string"}}}},
\t\t\t"required":   []string{{"name"}},
\t\t}},
\t}}, func(config map[string]any, ctx *plugin.Context) (any, error) {{
\t\tname, _ := config["name"].(string)
\t\tif name == "" {{
\t\t\treturn nil, plugin.NewError("EMPTY_NAME", "name is empty", nil)
\t\t}}
\t\tctx.Log("info", "greeting "+name)
\t\treturn map[string]any{{"greeting": "Hello, " + name + "!"}}, nil
\t}})
\tlog.Fatal(p.Serve())
}}
"""

_TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "commonjs",
        "moduleResolution": "node",
        "strict": True,
        "outDir": "dist",
        "rootDir": "src",
        "skipLibCheck": True,
        "types": ["node"],
    },
    "include": ["src/**/*.ts"],
}


def sdk_dir(lang: str) -> Path | None:
    """The SDK in this source checkout, when testflow runs from one."""
    candidate = (
        Path(testflow.__file__).resolve().parent.parent
        / "sdk"
        / ("typescript" if lang == "ts" else "go")
    )
    return candidate if candidate.is_dir() else None


def _manifest(name: str, entry: str, lang: str) -> str:
    data = {
        "id": name,
        "name": name,
        "version": "0.1.0",
        "description": f"A testflow action plugin ({lang})",
        "author": "",
        "type": "action",
        "entry_point": entry,
        "permissions": [],
    }
    return json.dumps(data, indent=2) + "\n"


def new_plugin(name: str, lang: str, parent: Path) -> Path:
    """Write a new plugin folder ``parent/name``; returns it. Refuses to overwrite."""
    if not re.match(ID_PATTERN, name) or "." in name:
        raise ValueError(f"{name!r} is not a plugin id (letters, digits, '-' and '_', no dots)")
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    target = parent / name
    if target.exists():
        raise FileExistsError(f"{target} exists")
    target.mkdir(parents=True)
    if lang == "py":
        (target / "server.py").write_text(_PY.format(name=name))
        (target / "manifest.json").write_text(_manifest(name, "server.py", lang))
        build = "nothing to build"
    elif lang == "ts":
        sdk = sdk_dir("ts")
        dep = f"file:{sdk}" if sdk else "^0.1.0"
        package = {
            "name": name,
            "version": "0.1.0",
            "private": True,
            "main": "dist/index.js",
            "scripts": {"build": "tsc -p tsconfig.json"},
            "dependencies": {"@testflow/plugin-sdk": dep},
            "devDependencies": {"@types/node": "^20.19.0", "typescript": "~5.9.3"},
        }
        (target / "src").mkdir()
        (target / "src" / "index.ts").write_text(_TS.format(name=name))
        (target / "package.json").write_text(json.dumps(package, indent=2) + "\n")
        (target / "tsconfig.json").write_text(json.dumps(_TSCONFIG, indent=2) + "\n")
        (target / "manifest.json").write_text(_manifest(name, "dist/index.js", lang))
        build = "npm install && npm run build"
    else:
        sdk = sdk_dir("go")
        replace = f"\nreplace testflow.dev/plugin-sdk => {sdk}\n" if sdk else ""
        gomod = f"module example.com/{name}\n\ngo 1.19\n\nrequire testflow.dev/plugin-sdk v0.0.0\n{replace}"
        (target / "go.mod").write_text(gomod)
        (target / "main.go").write_text(_GO.format(name=name))
        (target / "manifest.json").write_text(_manifest(name, "plugin", lang))
        build = "go build -o plugin ."
    (target / "README.md").write_text(
        f"# {name}\n\nA testflow action plugin. Build: `{build}`. Then:\n\n"
        f"    testflow plugins install {target}\n\nand use it in a flow:\n\n"
        f"    - id: greet\n      type: {name}.hello\n      name: World\n"
    )
    return target
