// __NAME__: a sluice renderer. One ConfigMap named after the application,
// holding every file of the app directory.
//
// Built with componentize-js (see build.sh) into a component of the
// `sluice:plugin/renderer` world: the exports below are the world's
// functions; `tree` is the host's resource (read, list, stat).

function fail(message) {
  // A thrown plain object becomes the `err` of the result.
  return { message, results: [{ severity: "error", message }] };
}

function treeError(e) {
  const v = e && e.payload !== undefined ? e.payload : e;
  return fail(`${v.val}: ${v.tag}`);
}

export function describe() {
  return {
    name: "__NAME__",
    version: "0.1.0",
    description: "one ConfigMap holding the app directory's files",
    params: [{ name: "prefix", description: "put in front of the ConfigMap's name", default: "" }],
    detect: [],
  };
}

export function render(tree, request) {
  let prefix = "";
  for (const p of request.params) {
    if (p.name !== "prefix") throw fail(`unknown parameter '${p.name}'; this renderer takes 'prefix'`);
    prefix = p.value;
  }
  let entries;
  try {
    entries = tree.list(request.path);
  } catch (e) {
    throw treeError(e);
  }
  const data = {};
  for (const entry of entries) {
    if (entry.kind !== "file") continue;
    const path = request.path ? `${request.path}/${entry.name}` : entry.name;
    let bytes;
    try {
      bytes = tree.read(path);
    } catch (e) {
      throw treeError(e);
    }
    try {
      data[entry.name] = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw fail(`${path}: not UTF-8 text`);
    }
  }
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: prefix + request.context.appName },
    data,
  };
  return { objects: [{ json: JSON.stringify(object), sensitivePaths: [] }], results: [] };
}
