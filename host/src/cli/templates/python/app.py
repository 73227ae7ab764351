"""__NAME__: a sluice renderer. One ConfigMap named after the application,
holding every file of the app directory.

Built with componentize-py (see build.sh) into a component of the
`sluice:plugin/renderer` world; `WitWorld` is the world's implementation.
"""

import json

from componentize_py_types import Err
from wit_world.imports import renderer_types as rt
from wit_world.imports import source
from wit_world.imports import types


def fail(message):
    diag = types.Diagnostic(types.Severity.ERROR, message, None, None, None)
    return Err(rt.RenderError(message=message, results=[diag]))


def tree_error(err):
    return fail(f"{err.value}: {type(err).__name__.split('_')[-1]}")


class WitWorld:
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="__NAME__",
            version="0.1.0",
            description="one ConfigMap holding the app directory's files",
            params=[types.ParamSpec("prefix", "put in front of the ConfigMap's name", "")],
            detect=[],
        )

    def render(self, tree, request):
        prefix = ""
        for p in request.params:
            if p.name != "prefix":
                raise fail(f"unknown parameter {p.name!r}; this renderer takes 'prefix'")
            prefix = p.value
        data = {}
        try:
            entries = tree.list(request.path)
        except Err as e:
            raise tree_error(e.value)
        for entry in entries:
            if entry.kind != source.EntryKind.FILE:
                continue
            path = f"{request.path}/{entry.name}" if request.path else entry.name
            try:
                content = bytes(tree.read(path))
            except Err as e:
                raise tree_error(e.value)
            try:
                data[entry.name] = content.decode("utf-8")
            except UnicodeDecodeError:
                raise fail(f"{path}: not UTF-8 text")
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": prefix + request.context.app_name},
            "data": data,
        }
        return rt.RenderOutput(objects=[rt.RenderedObject(json.dumps(obj), None, [])], results=[])
