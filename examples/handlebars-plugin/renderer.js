// A sluice renderer in JavaScript: Handlebars templates plus a values file.
//
// The same contract as the Python Jinja2 example (examples/jinja-plugin):
// the app directory holds `templates/*.yaml` (or `.yml`; files whose name
// starts with `_` are partials, registered under their name without `_` and
// extension, and not rendered on their own) and a values file (`values.yaml`,
// or the one named by the `values` parameter). Every template is rendered
// with `values` (the values file, `set.KEY.PATH=VALUE` parameters and the
// structured parameters merged over it) and `app` (`name`, `namespace`,
// `revision`, `repoUrl`). Missing values are errors (strict mode), nothing is
// HTML-escaped, and each rendered template must be a YAML stream of objects.
//
// Bundled with esbuild and built with componentize-js (jco) into a component
// of the `sluice:plugin/renderer` world; see build.sh.

import Handlebars from "handlebars";
import { parseAllDocuments } from "yaml";

const NAME = "handlebars";
const VERSION = "0.1.0";
const TEMPLATE_DIR = "templates";

class Failure {
  constructor(message, file, line) {
    this.message = message;
    this.file = file;
    this.line = line;
  }
}

const join = (base, name) => (base ? `${base}/${name}` : name);

const TREE_ERRORS = {
  "not-found": "not found",
  "outside-root": "outside the repository",
  "is-directory": "is a directory",
  "not-directory": "is not a directory",
  unsupported: "unsupported entry",
  "too-large": "too large to read",
  io: "cannot be read",
};

// The host's `tree-error` variant behind a thrown import error.
function treeError(e) {
  const v = e && e.payload !== undefined ? e.payload : e;
  if (v && typeof v.tag === "string") return v;
  throw e;
}

const describeTreeError = (v) => `${v.val}: ${TREE_ERRORS[v.tag] || "error"}`;

function readText(tree, path) {
  let bytes;
  try {
    bytes = tree.read(path);
  } catch (e) {
    throw new Failure(describeTreeError(treeError(e)), path);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Failure(`${path}: not UTF-8 text`, path);
  }
}

function listing(tree, path) {
  try {
    return tree.list(path);
  } catch (e) {
    const v = treeError(e);
    if (v.tag === "not-found") return null;
    throw new Failure(describeTreeError(v), path);
  }
}

function isMap(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function setPath(values, dotted, value, param) {
  const keys = dotted.split(".");
  if (keys.some((k) => k === "")) {
    throw new Failure(`parameter ${param}: '${dotted}' is not a dotted key path`);
  }
  let node = values;
  for (const k of keys.slice(0, -1)) {
    if (node[k] === undefined || node[k] === null) node[k] = {};
    if (!isMap(node[k])) {
      throw new Failure(`parameter ${param}: '${k}' in '${dotted}' is not a mapping in the values`);
    }
    node = node[k];
  }
  node[keys[keys.length - 1]] = value;
}

function merge(base, over) {
  for (const [k, v] of Object.entries(over)) {
    if (isMap(v) && isMap(base[k])) merge(base[k], v);
    else base[k] = v;
  }
  return base;
}

// Parse a YAML stream; throws a Failure naming `path` on a syntax error.
function parseYaml(text, path, what) {
  const docs = parseAllDocuments(text);
  const out = [];
  for (const doc of docs) {
    if (doc.errors && doc.errors.length > 0) {
      const err = doc.errors[0];
      const line = err.linePos && err.linePos[0] ? err.linePos[0].line : undefined;
      throw new Failure(`${path}: ${what}: ${err.message.split("\n")[0]}`, path, line);
    }
    out.push(doc.toJS());
  }
  return out;
}

function renderApp(tree, request) {
  let valuesFile = "values.yaml";
  const sets = [];
  for (const p of request.params) {
    if (p.name === "values") valuesFile = p.value;
    else if (p.name.startsWith("set.")) sets.push(p);
    else {
      throw new Failure(
        `unknown parameter '${p.name}'; this renderer takes 'values' and 'set.KEY'`,
      );
    }
  }

  const valuesPath = join(request.path, valuesFile);
  let values = {};
  let present = true;
  try {
    tree.stat(valuesPath);
  } catch (e) {
    const v = treeError(e);
    if (v.tag !== "not-found" || valuesFile !== "values.yaml") {
      throw new Failure(`${describeTreeError(v)} (the values file)`, valuesPath);
    }
    present = false;
  }
  if (present) {
    const docs = parseYaml(readText(tree, valuesPath), valuesPath, "invalid YAML");
    const loaded = docs.length > 0 ? docs[0] : null;
    if (loaded !== null && loaded !== undefined) {
      if (!isMap(loaded)) {
        throw new Failure(`${valuesPath}: the values file must be a mapping`, valuesPath);
      }
      values = loaded;
    }
  }
  for (const p of sets) setPath(values, p.name.slice("set.".length), p.value, p.name);
  if (request.paramsJson) {
    let extra;
    try {
      extra = JSON.parse(request.paramsJson);
    } catch (e) {
      throw new Failure(`structured parameters are not JSON: ${e.message}`);
    }
    if (!isMap(extra)) throw new Failure("structured parameters must be a JSON object");
    merge(values, extra);
  }

  const ctx = request.context;
  const scope = {
    values,
    app: {
      name: ctx.appName,
      namespace: ctx.destinationNamespace,
      revision: ctx.revision,
      repoUrl: ctx.repoUrl,
    },
  };
  const tdir = join(request.path, TEMPLATE_DIR);
  const entries = listing(tree, tdir);
  if (entries === null) {
    throw new Failure(`${tdir}: no templates directory; put the templates in ${TEMPLATE_DIR}/`, tdir);
  }
  const hb = Handlebars.create();
  const isTemplate = (n) => n.endsWith(".yaml") || n.endsWith(".yml");
  const files = entries.filter((e) => e.kind === "file" && isTemplate(e.name));
  for (const e of files.filter((e) => e.name.startsWith("_"))) {
    const partial = e.name.slice(1).replace(/\.ya?ml$/, "");
    hb.registerPartial(partial, readText(tree, join(tdir, e.name)));
  }
  const objects = [];
  for (const e of files.filter((e) => !e.name.startsWith("_"))) {
    const path = join(tdir, e.name);
    let text;
    try {
      const template = hb.compile(readText(tree, path), { noEscape: true, strict: true });
      text = template(scope);
    } catch (err) {
      if (err instanceof Failure) throw err;
      const line = err && err.lineNumber ? err.lineNumber : undefined;
      const msg = String(err && err.message ? err.message : err).split("\n")[0];
      throw new Failure(`${path}: template error: ${msg}`, path, line);
    }
    const docs = parseYaml(text, path, "the rendered template is not valid YAML");
    docs.forEach((doc, index) => {
      if (doc === null || doc === undefined) return;
      if (!isMap(doc)) throw new Failure(`${path}: document ${index} is not an object`, path);
      objects.push({ json: JSON.stringify(doc), origin: { file: path, index }, sensitivePaths: [] });
    });
  }
  return { objects, results: [] };
}

export function describe() {
  return {
    name: NAME,
    version: VERSION,
    description: "Handlebars templates plus a values file (JavaScript)",
    params: [
      { name: "values", description: "values file, relative to the app directory", default: "values.yaml" },
      { name: "set.*", description: "set.KEY.PATH=VALUE overrides one value (as a string)" },
    ],
    detect: [],
  };
}

export function render(tree, request) {
  try {
    return renderApp(tree, request);
  } catch (f) {
    if (!(f instanceof Failure)) {
      f = new Failure(`internal error: ${f && f.message ? f.message : f}`);
    }
    const diag = {
      severity: "error",
      message: f.message,
      file: f.file ? { path: f.file, line: f.line } : undefined,
    };
    // A thrown non-Error value becomes the `err` of the result.
    throw { message: f.message, results: [diag] };
  }
}
