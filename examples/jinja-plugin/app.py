"""A sluice renderer in Python: Jinja2 templates plus a values file.

The app directory holds `templates/*.yaml` (or `.yml`; files whose name
starts with `_` are helpers, not rendered on their own) and a values file
(`values.yaml`, or the one named by the `values` parameter). Every template
is rendered with:

- `values`: the values file, with `set.KEY.PATH=VALUE` parameters and the
  structured parameters (params-json) merged over it;
- `app`: `name`, `namespace`, `revision`, `repoUrl` of the application.

Undefined variables are errors (StrictUndefined), nothing is HTML-escaped,
and each rendered template must be a YAML stream of objects. Built with
componentize-py into a component of the `sluice:plugin/renderer` world.
"""

import encodings.unicode_escape  # noqa: F401 (the Jinja2 compiler uses this codec)
import json

import jinja2
import jinja2.debug  # noqa: F401 (imported lazily by jinja2 on a template error)
import yaml

from componentize_py_types import Err
from wit_world.imports import renderer_types as rt
from wit_world.imports import source
from wit_world.imports import types

NAME = "jinja"
VERSION = "0.1.0"
TEMPLATE_DIR = "templates"


class Failure(Exception):
    """A render error: a message naming the file, and optionally its place."""

    def __init__(self, message, file=None, line=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line


def join(base, name):
    return f"{base}/{name}" if base else name


def tree_error(err):
    """One sentence for a host `tree-error`."""
    kinds = {
        source.TreeError_NotFound: "not found",
        source.TreeError_OutsideRoot: "outside the repository",
        source.TreeError_IsDirectory: "is a directory",
        source.TreeError_NotDirectory: "is not a directory",
        source.TreeError_Unsupported: "unsupported entry",
        source.TreeError_TooLarge: "too large to read",
        source.TreeError_Io: "cannot be read",
    }
    return f"{err.value}: {kinds.get(type(err), 'error')}"


def read_text(tree, path):
    try:
        data = tree.read(path)
    except Err as e:
        raise Failure(tree_error(e.value), file=path)
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(f"{path}: not UTF-8 text", file=path)


def listing(tree, path):
    try:
        return tree.list(path)
    except Err as e:
        if isinstance(e.value, source.TreeError_NotFound):
            return None
        raise Failure(tree_error(e.value), file=path)


def set_path(values, dotted, value, param):
    keys = dotted.split(".")
    if not all(keys):
        raise Failure(f"parameter {param}: {dotted!r} is not a dotted key path")
    node = values
    for k in keys[:-1]:
        nxt = node.get(k)
        if nxt is None:
            nxt = node[k] = {}
        if not isinstance(nxt, dict):
            raise Failure(f"parameter {param}: {k!r} in {dotted!r} is not a mapping in the values")
        node = nxt
    node[keys[-1]] = value


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class TreeLoader(jinja2.BaseLoader):
    """Jinja2 loads `{% include %}`/`{% import %}` targets from the tree."""

    def __init__(self, tree, base):
        self.tree = tree
        self.base = base

    def get_source(self, environment, template):
        path = join(self.base, template)
        try:
            data = self.tree.read(path)
        except Err:
            raise jinja2.TemplateNotFound(template)
        return bytes(data).decode("utf-8"), path, lambda: True


def plugin_params():
    return [
        types.ParamSpec("values", "values file, relative to the app directory", "values.yaml"),
        types.ParamSpec("set.*", "set.KEY.PATH=VALUE overrides one value (as a string)", None),
    ]


def render_app(tree, request):
    values_file = "values.yaml"
    sets = []
    for p in request.params:
        if p.name == "values":
            values_file = p.value
        elif p.name.startswith("set."):
            sets.append(p)
        else:
            raise Failure(f"unknown parameter {p.name!r}; this renderer takes 'values' and 'set.KEY'")

    values_path = join(request.path, values_file)
    values = {}
    try:
        tree.stat(values_path)
        present = True
    except Err as e:
        if not isinstance(e.value, source.TreeError_NotFound) or values_file != "values.yaml":
            raise Failure(tree_error(e.value) + " (the values file)", file=values_path)
        present = False
    if present:
        try:
            loaded = yaml.safe_load(read_text(tree, values_path))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise Failure(f"{values_path}: invalid YAML: {e}", file=values_path,
                          line=mark.line + 1 if mark else None)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise Failure(f"{values_path}: the values file must be a mapping", file=values_path)
        values = loaded
    for p in sets:
        set_path(values, p.name[len("set."):], p.value, p.name)
    if request.params_json:
        try:
            extra = json.loads(request.params_json)
        except ValueError as e:
            raise Failure(f"structured parameters are not JSON: {e}")
        if not isinstance(extra, dict):
            raise Failure("structured parameters must be a JSON object")
        merge(values, extra)

    ctx = request.context
    scope = {
        "values": values,
        "app": {
            "name": ctx.app_name,
            "namespace": ctx.destination_namespace,
            "revision": ctx.revision,
            "repoUrl": ctx.repo_url,
        },
    }
    tdir = join(request.path, TEMPLATE_DIR)
    entries = listing(tree, tdir)
    if entries is None:
        raise Failure(f"{tdir}: no templates directory; put the templates in {TEMPLATE_DIR}/", file=tdir)
    env = jinja2.Environment(
        loader=TreeLoader(tree, tdir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    objects = []
    for entry in entries:
        if entry.kind != source.EntryKind.FILE or entry.name.startswith("_"):
            continue
        if not (entry.name.endswith(".yaml") or entry.name.endswith(".yml")):
            continue
        path = join(tdir, entry.name)
        try:
            text = env.get_template(entry.name).render(scope)
        except jinja2.TemplateSyntaxError as e:
            raise Failure(f"{path}: template error: {e.message}", file=path, line=e.lineno)
        except jinja2.TemplateError as e:
            raise Failure(f"{path}: template error: {e}", file=path)
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            raise Failure(f"{path}: the rendered template is not valid YAML: {e}", file=path)
        for index, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise Failure(f"{path}: document {index} is not an object", file=path)
            objects.append(rt.RenderedObject(
                json=json.dumps(doc, default=str),
                origin=rt.Origin(file=path, index=index),
                sensitive_paths=[],
            ))
    return rt.RenderOutput(objects=objects, results=[])


class WitWorld:
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            description="Jinja2 templates plus a values file (Python)",
            params=plugin_params(),
            detect=[],
        )

    def render(self, tree, request):
        try:
            return render_app(tree, request)
        except Failure as f:
            diag = types.Diagnostic(
                severity=types.Severity.ERROR,
                message=f.message,
                resource_ref=None,
                file=types.FileRef(f.file, None, f.line, None) if f.file else None,
                field=None,
            )
            raise Err(rt.RenderError(message=f.message, results=[diag]))
