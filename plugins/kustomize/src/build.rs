//! Building a kustomization: loading its resources (files and nested
//! kustomizations, with cycle detection and the load restrictor), running
//! its generators, applying its components, then its transformers in
//! kustomize's order.

use crate::error::{Error, Result};
use crate::fieldspec::{Config, FieldSpec};
use crate::kustfile::{self, Kustomization};
use crate::patch;
use crate::resource::{Gvk, Resource};
use crate::yaml::Schema;
use crate::{generate, paths, transform};
use serde_json::Value;
use sluice_plugin_sdk::{EntryKind, SourceTree, TreeError, tree_error_message};
use std::collections::HashSet;

/// What the build needs besides the kustomization: the tree and options.
pub struct Ctx<'a> {
    /// The repository.
    pub tree: &'a dyn SourceTree,
    /// `LoadRestrictionsRootOnly`: files must lie under the kustomization.
    pub root_only: bool,
    /// Record which transformers ran over which objects (the top
    /// kustomization asks for `buildMetadata: [transformerAnnotations]`).
    pub trace: bool,
    /// The transformers that ran: the repository-relative file that
    /// configured each and its `configuredBy` id.
    pub records: Vec<(String, Value)>,
    /// The custom OpenAPI schema (`openapi: {path}`) of the first
    /// kustomization that gives one, top down: an overlay's wins over its
    /// bases', and a base's applies to its overlays' patches too.
    pub schema: Option<std::rc::Rc<patch::schema::Schema>>,
    /// Edits to the top-level kustomization (the `overrides` parameter).
    pub overrides: Option<crate::overrides::Overrides>,
    stack: Vec<String>,
}

const HELM: &str = "render the chart with a Helm renderer instead";

/// A builtin plugin's `configuredBy` id.
pub fn builtin_id(kind: &str) -> Value {
    serde_json::json!({"apiVersion": "builtin", "kind": kind})
}

/// Resources and configuration accumulated so far.
pub struct Accum {
    /// The resources, in kustomize's order.
    pub res: Vec<Resource>,
    /// Transformer configuration merged from every level.
    pub config: Config,
    /// Legacy `vars` declared on every level.
    pub vars: Vec<(Value, String)>,
    /// The top kustomization (for sort options and messages).
    pub top: Option<Kustomization>,
}

impl Accum {
    /// An empty accumulator with kustomize's built-in configuration.
    pub fn new() -> Self {
        Accum {
            res: Vec::new(),
            config: Config::builtin(),
            vars: Vec::new(),
            top: None,
        }
    }

    /// Append another accumulation, refusing ids already present. `ids`
    /// holds the ids of `self.res` (see [`Accum::id_set`]); it is kept up
    /// to date, so that loading many files does not rescan every object
    /// for each file.
    fn append_all(&mut self, other: Accum, ids: &mut HashSet<IdKey>) -> Result<()> {
        for r in other.res {
            if !ids.insert(id_key(&r)) {
                return Err(Error::msg(format!(
                    "may not add resource with an already registered id: {}",
                    r.id_text()
                )));
            }
            self.res.push(r);
        }
        self.config.merge(&other.config);
        self.vars.extend(other.vars);
        Ok(())
    }

    /// The ids of the resources so far, for [`Accum::append_all`].
    fn id_set(&self) -> HashSet<IdKey> {
        self.res.iter().map(id_key).collect()
    }
}

/// An id as kustomize compares them when adding resources (`default` is
/// the empty namespace).
type IdKey = (Gvk, String, String);

fn id_key(r: &Resource) -> IdKey {
    (
        r.gvk(),
        r.name().to_string(),
        if r.namespace() == "default" {
            String::new()
        } else {
            r.namespace().to_string()
        },
    )
}

impl Default for Accum {
    fn default() -> Self {
        Self::new()
    }
}

fn tree_err(e: &TreeError) -> String {
    tree_error_message(e)
}

impl<'a> Ctx<'a> {
    /// A build context.
    pub fn new(tree: &'a dyn SourceTree, root_only: bool) -> Self {
        Ctx {
            tree,
            root_only,
            trace: false,
            records: Vec::new(),
            schema: None,
            overrides: None,
            stack: Vec::new(),
        }
    }

    /// Note that the transformer configured in `configured_in` as `by` ran
    /// over every object of `acc` (when tracing).
    pub fn record(&mut self, acc: &mut Accum, configured_in: &str, by: Value) {
        if !self.trace {
            return;
        }
        let id = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        self.records.push((configured_in.to_string(), by));
        for r in &mut acc.res {
            r.transformations.push(id);
        }
    }

    /// Read a file named relative to the kustomization directory `kdir`,
    /// applying the load restrictor.
    pub fn read(&self, kdir: &str, kfile: &str, rel: &str) -> Result<(String, Vec<u8>)> {
        if paths::is_remote(rel) {
            return Err(Error::in_file(
                kfile,
                format!(
                    "remote file {rel:?} is not supported (sluice renders from the repository only)"
                ),
            ));
        }
        let p = paths::resolve(kdir, rel)
            .ok_or_else(|| Error::in_file(kfile, format!("{rel}: path leaves the repository")))?;
        if self.root_only && !paths::is_within(kdir, &p) {
            return Err(Error::in_file(
                kfile,
                format!(
                    "security; file '{p}' is not in or below '{}'",
                    if kdir.is_empty() { "." } else { kdir }
                ),
            ));
        }
        let bytes = self
            .tree
            .read(&p)
            .map_err(|e| Error::in_file(kfile, tree_err(&e)))?;
        Ok((p, bytes))
    }

    /// Build the kustomization in `dir` into `acc`. `component` says the
    /// directory must hold a `kind: Component` applied onto `acc`.
    pub fn build_dir(&mut self, dir: &str, acc: &mut Accum, component: bool) -> Result<()> {
        let shown = if dir.is_empty() { "." } else { dir };
        let top = self.stack.is_empty();
        let found = kustfile::find(self.tree, dir)?;
        if found.is_none()
            && top
            && !component
            && let Some(o) = self.overrides.clone().filter(|o| o.generate)
        {
            // Flux's generated kustomization, then the overrides on it.
            let mut k = crate::overrides::generated(self.tree, dir)?;
            let kfile = crate::paths::join(dir, "kustomization.yaml");
            crate::overrides::apply(&mut k, &o, self.tree, dir, &kfile)?;
            self.stack.push(dir.to_string());
            let r = self
                .build_kustomization(dir, &kfile, &k, acc)
                .map_err(|e| e.context(&format!("{kfile} (generated)")));
            self.stack.pop();
            r?;
            acc.top = Some(k);
            return Ok(());
        }
        let kfile = found.ok_or_else(|| {
            Error::msg(format!("unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{shown}'"))
        })?;
        if self.stack.iter().any(|d| d == dir) {
            return Err(Error::in_file(
                &kfile,
                format!(
                    "cycle detected: '{shown}' is included by itself through {}",
                    self.stack.join(" -> ")
                ),
            ));
        }
        let bytes = self
            .tree
            .read(&kfile)
            .map_err(|e| Error::in_file(&kfile, tree_err(&e)))?;
        let mut k = kustfile::parse(&kfile, &bytes)?;
        // A Component built directly (the top of the build) is built like
        // a Kustomization, as `kustomize build` does.
        if top
            && !component
            && let Some(o) = &self.overrides
        {
            crate::overrides::apply(&mut k, o, self.tree, dir, &kfile)?;
        }
        if top && !component {
            self.trace = k
                .build_metadata
                .iter()
                .any(|b| b == "transformerAnnotations");
        }
        check_kind(&k, &kfile, shown, component || (top && k.is_component()))?;
        self.stack.push(dir.to_string());
        let r = self
            .build_kustomization(dir, &kfile, &k, acc)
            .map_err(|e| e.context(&kfile));
        self.stack.pop();
        r?;
        if self.stack.is_empty() {
            acc.top = Some(k);
        }
        Ok(())
    }

    fn build_kustomization(
        &mut self,
        dir: &str,
        kfile: &str,
        k: &Kustomization,
        acc: &mut Accum,
    ) -> Result<()> {
        for (present, what, instead) in [
            (
                k.helm_charts.is_some(),
                "helmCharts (kustomize's builtin HelmChartInflationGenerator)",
                HELM,
            ),
            (
                k.helm_chart_inflation_generator.is_some(),
                "helmChartInflationGenerator",
                HELM,
            ),
            (k.helm_globals.is_some(), "helmGlobals", HELM),
            (
                !k.validators.is_empty(),
                "validators",
                "validate the rendered objects in CI instead",
            ),
        ] {
            if present {
                return Err(Error::in_file(
                    kfile,
                    format!("{what} is not supported by sluice's kustomize renderer ({instead})"),
                ));
            }
        }
        if let Some(path) = k
            .openapi
            .as_ref()
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str)
            && self.schema.is_none()
        {
            if paths::is_remote(path) {
                return Err(Error::in_file(
                    kfile,
                    format!(
                        "remote openapi schema {path:?} is not supported (sluice renders from the repository only; add the schema file to the repository)"
                    ),
                ));
            }
            let (p, bytes) = self.read(dir, kfile, path)?;
            let doc = parse_docs_as(&p, &bytes, Schema::Config)?
                .into_iter()
                .next()
                .unwrap_or_default();
            self.schema = Some(std::rc::Rc::new(patch::schema::Schema::new(&doc)));
        }
        let mut ids = acc.id_set();
        for entry in &k.resources {
            self.load_resource(dir, kfile, entry, acc, &mut ids)?;
        }
        drop(ids);
        for c in &k.configurations {
            let (p, bytes) = self.read(dir, kfile, c)?;
            for doc in parse_docs_as(&p, &bytes, Schema::Config)? {
                let cfg = Config::from_value(&doc).map_err(|e| Error::in_file(&p, e.message))?;
                acc.config.merge(&cfg);
            }
        }
        for c in &k.crds {
            let (p, bytes) = self.read(dir, kfile, c)?;
            let docs = parse_docs_as(&p, &bytes, Schema::Config)?;
            check_openapi_definitions(&p, &docs)?;
            for d in &docs {
                acc.config.merge(&crd_config(d));
            }
        }
        self.run_generators(dir, kfile, k, acc)?;
        for c in &k.components {
            if paths::is_remote(c) {
                return Err(Error::in_file(
                    kfile,
                    format!(
                        "remote component {c:?} is not supported (sluice renders from the repository only)"
                    ),
                ));
            }
            let cdir = paths::resolve(dir, c)
                .ok_or_else(|| Error::in_file(kfile, format!("{c}: path leaves the repository")))?;
            match self.tree.stat(&cdir) {
                Ok(e) if e.kind == EntryKind::Directory => self.build_dir(&cdir, acc, true)?,
                Ok(_) => {
                    return Err(Error::in_file(
                        kfile,
                        format!("component {c:?} must be a directory holding a kustomization"),
                    ));
                }
                Err(e) => {
                    return Err(Error::in_file(
                        kfile,
                        format!("accumulating components: {}", tree_err(&e)),
                    ));
                }
            }
        }
        self.run_transformers(dir, kfile, k, acc)?;
        for v in &k.vars {
            crate::replace::bind_var(&mut acc.res, v, kfile)?;
            acc.vars.push((v.clone(), kfile.to_string()));
        }
        Ok(())
    }

    fn load_resource(
        &mut self,
        dir: &str,
        kfile: &str,
        entry: &str,
        acc: &mut Accum,
        ids: &mut HashSet<IdKey>,
    ) -> Result<()> {
        if paths::is_remote(entry) {
            return Err(Error::in_file(
                kfile,
                format!(
                    "remote resource {entry:?} is not supported (sluice renders from the repository only)"
                ),
            ));
        }
        let p = paths::resolve(dir, entry).ok_or_else(|| {
            Error::in_file(
                kfile,
                format!("accumulating resources from '{entry}': path leaves the repository"),
            )
        })?;
        match self.tree.stat(&p) {
            Ok(e) if e.kind == EntryKind::Directory => {
                let mut sub = Accum::new();
                self.build_dir(&p, &mut sub, false).map_err(|e| Error {
                    message: format!("accumulating resources from '{entry}': {}", e.message),
                    file: e.file,
                })?;
                acc.append_all(sub, ids).map_err(|e| e.context(kfile))
            }
            Ok(_) => {
                let (p, bytes) = self.read(dir, kfile, entry).map_err(|e| Error {
                    message: format!("accumulating resources: {}", e.message),
                    ..e
                })?;
                let mut local = Accum {
                    res: Vec::new(),
                    config: Config::default(),
                    vars: Vec::new(),
                    top: None,
                };
                for (i, doc) in parse_docs(&p, &bytes)?.into_iter().enumerate() {
                    for obj in expand_list(doc) {
                        check_object(&obj, &p)?;
                        local.res.push(Resource::new(
                            obj,
                            &p,
                            u32::try_from(i).unwrap_or(u32::MAX),
                        ));
                    }
                }
                acc.append_all(local, ids).map_err(|e| e.context(kfile))
            }
            Err(e) => Err(Error::in_file(
                kfile,
                format!(
                    "accumulating resources: accumulation err='accumulating resources from '{entry}': {}'",
                    tree_err(&e)
                ),
            )),
        }
    }

    fn run_generators(
        &mut self,
        dir: &str,
        kfile: &str,
        k: &Kustomization,
        acc: &mut Accum,
    ) -> Result<()> {
        let read = |rel: &str| self.read(dir, kfile, rel);
        for (kind, gens) in [
            ("ConfigMap", &k.config_map_generator),
            ("Secret", &k.secret_generator),
        ] {
            for g in gens {
                let mut r =
                    generate::generate(kind, g, k.generator_options.as_ref(), kfile, &read)?;
                r.generated_by = Some((kfile.to_string(), builtin_id(&format!("{kind}Generator"))));
                generate::absorb(&mut acc.res, r).map_err(|e| e.context(kfile))?;
            }
        }
        for g in &k.generators {
            let configured_in = self
                .plugin_file(dir, g)
                .unwrap_or_else(|| kfile.to_string());
            for cfg in self.plugin_configs(dir, kfile, g)? {
                crate::builtins::generate(self, dir, kfile, &configured_in, &cfg, acc)?;
            }
        }
        Ok(())
    }

    /// The plugin configuration objects of a `generators:` or
    /// `transformers:` entry (a file, an inline object, or a directory).
    pub fn plugin_configs(&mut self, dir: &str, kfile: &str, entry: &str) -> Result<Vec<Value>> {
        if entry.contains('\n') || entry.trim_start().starts_with('{') {
            return parse_docs(kfile, entry.as_bytes());
        }
        let p = paths::resolve(dir, entry)
            .ok_or_else(|| Error::in_file(kfile, format!("{entry}: path leaves the repository")))?;
        if self
            .tree
            .stat(&p)
            .is_ok_and(|e| e.kind == EntryKind::Directory)
        {
            let mut sub = Accum::new();
            self.build_dir(&p, &mut sub, false)?;
            return Ok(sub.res.into_iter().map(|r| r.obj).collect());
        }
        let (p, bytes) = self.read(dir, kfile, entry)?;
        parse_docs(&p, &bytes)
    }

    fn run_transformers(
        &mut self,
        dir: &str,
        kfile: &str,
        k: &Kustomization,
        acc: &mut Accum,
    ) -> Result<()> {
        for entry in &k.patches_strategic_merge {
            let (source, text) = self.patch_text(dir, kfile, entry)?;
            let docs = match patch::parse(&source, &text)? {
                patch::Body::Smp(d) => d,
                patch::Body::Json(_) => {
                    return Err(Error::in_file(
                        &source,
                        "patchesStrategicMerge entry is a JSON patch; use patches with a target",
                    ));
                }
            };
            patch::apply_smp_by_id(&mut acc.res, &docs, &source, self.schema.as_deref())?;
        }
        if !k.patches_strategic_merge.is_empty() {
            self.record(acc, kfile, builtin_id("PatchStrategicMergeTransformer"));
        }
        // One name index for a run of patches, rebuilt only after a patch
        // renames or removes objects.
        let mut index: Option<crate::select::Index> = None;
        for p in &k.patches {
            let loaded = self.load_patch(dir, kfile, p.path.as_deref(), p.patch.as_deref())?;
            let ix = index.get_or_insert_with(|| crate::select::Index::new(&acc.res));
            if patch::apply_patch(
                &mut acc.res,
                &loaded,
                p.target.as_ref(),
                &p.options,
                Some(ix),
            )? {
                index = None;
            }
            self.record(acc, kfile, builtin_id("PatchTransformer"));
        }
        if let Some(ns) = k.namespace.as_deref().filter(|s| !s.is_empty()) {
            transform::namespace(&mut acc.res, ns, &acc.config.namespace, false)?;
            self.record(acc, kfile, builtin_id("NamespaceTransformer"));
        }
        let prefix = k.name_prefix.as_deref().unwrap_or_default();
        if !prefix.is_empty() {
            transform::prefix_suffix(&mut acc.res, prefix, "", &acc.config.name_prefix)?;
            self.record(acc, kfile, builtin_id("PrefixTransformer"));
        }
        let suffix = k.name_suffix.as_deref().unwrap_or_default();
        if !suffix.is_empty() {
            transform::prefix_suffix(&mut acc.res, "", suffix, &acc.config.name_prefix)?;
            self.record(acc, kfile, builtin_id("SuffixTransformer"));
        }
        // kustomize runs one label transformer per `labels` entry, then one
        // for `commonLabels`.
        for l in &k.labels {
            let mut specs: Vec<FieldSpec> = if l.include_selectors {
                acc.config.common_labels.clone()
            } else if l.include_templates {
                acc.config.template_labels.clone()
            } else {
                vec![FieldSpec::new(Gvk::default(), "metadata/labels", true)]
            };
            for f in &l.fields {
                specs.push(FieldSpec::from_value(f).map_err(|e| e.context(kfile))?);
            }
            specs.extend(acc.config.labels.iter().cloned());
            transform::set_map_fields(&mut acc.res, &l.pairs, &specs)?;
            self.record(acc, kfile, builtin_id("LabelTransformer"));
        }
        if !k.labels.is_empty() || !k.common_labels.is_empty() {
            transform::set_map_fields(&mut acc.res, &k.common_labels, &acc.config.common_labels)?;
            self.record(acc, kfile, builtin_id("LabelTransformer"));
        }
        if !k.common_annotations.is_empty() {
            transform::set_map_fields(
                &mut acc.res,
                &k.common_annotations,
                &acc.config.common_annotations,
            )?;
            self.record(acc, kfile, builtin_id("AnnotationsTransformer"));
        }
        // Names changed since the patches above: a fresh index.
        let mut index: Option<crate::select::Index> = None;
        for p in &k.patches_json6902 {
            let loaded = self.load_patch(dir, kfile, p.path.as_deref(), p.patch.as_deref())?;
            if p.target.is_none() {
                return Err(Error::in_file(
                    kfile,
                    "patchesJson6902 entry without a target",
                ));
            }
            let ix = index.get_or_insert_with(|| crate::select::Index::new(&acc.res));
            if patch::apply_patch(
                &mut acc.res,
                &loaded,
                p.target.as_ref(),
                &p.options,
                Some(ix),
            )? {
                index = None;
            }
            self.record(acc, kfile, builtin_id("PatchJson6902Transformer"));
        }
        for rep in &k.replicas {
            transform::replicas(
                &mut acc.res,
                std::slice::from_ref(rep),
                &acc.config.replicas,
            )?;
            self.record(acc, kfile, builtin_id("ReplicaCountTransformer"));
        }
        for img in &k.images {
            transform::images(&mut acc.res, std::slice::from_ref(img), &acc.config.images)?;
            self.record(acc, kfile, builtin_id("ImageTagTransformer"));
        }
        for r in &k.replacements {
            let list = self.replacement_entries(dir, kfile, r)?;
            crate::replace::apply(&mut acc.res, &list).map_err(|e| e.context(kfile))?;
        }
        if !k.replacements.is_empty() {
            self.record(acc, kfile, builtin_id("ReplacementTransformer"));
        }
        for t in &k.transformers {
            let configured_in = self
                .plugin_file(dir, t)
                .unwrap_or_else(|| kfile.to_string());
            for cfg in self.plugin_configs(dir, kfile, t)? {
                crate::builtins::transform(self, dir, kfile, &cfg, acc)?;
                self.record(acc, &configured_in, crate::builtins::configured_by(&cfg));
            }
        }
        Ok(())
    }

    /// The file a `generators:` / `transformers:` entry names, if it is a
    /// file (not inline text).
    pub fn plugin_file(&self, dir: &str, entry: &str) -> Option<String> {
        if entry.contains('\n') || entry.trim_start().starts_with('{') {
            return None;
        }
        paths::resolve(dir, entry)
    }

    fn replacement_entries(&mut self, dir: &str, kfile: &str, r: &Value) -> Result<Vec<Value>> {
        match r.get("path").and_then(Value::as_str) {
            Some(path) => {
                let (p, bytes) = self.read(dir, kfile, path)?;
                let mut out = Vec::new();
                for d in parse_docs(&p, &bytes)? {
                    match d {
                        Value::Array(items) => out.extend(items),
                        other => out.push(other),
                    }
                }
                Ok(out)
            }
            None => Ok(vec![r.clone()]),
        }
    }

    fn patch_text(&self, dir: &str, kfile: &str, entry: &str) -> Result<(String, Vec<u8>)> {
        if entry.contains('\n')
            || entry.trim_start().starts_with('{')
            || entry.trim_start().starts_with('[')
        {
            return Ok((kfile.to_string(), entry.as_bytes().to_vec()));
        }
        self.read(dir, kfile, entry)
    }

    /// Load a patch given by path or inline text.
    pub fn load_patch(
        &self,
        dir: &str,
        kfile: &str,
        path: Option<&str>,
        inline: Option<&str>,
    ) -> Result<patch::Loaded> {
        let (source, text) = match (path, inline) {
            (Some(p), None) => self.read(dir, kfile, p)?,
            (None, Some(t)) => (kfile.to_string(), t.as_bytes().to_vec()),
            (Some(_), Some(_)) => {
                return Err(Error::in_file(
                    kfile,
                    "patch and path can't be set at the same time",
                ));
            }
            (None, None) => {
                return Err(Error::in_file(
                    kfile,
                    "must specify one of patch and path in a patch entry",
                ));
            }
        };
        Ok(patch::Loaded {
            body: patch::parse(&source, &text)?,
            source,
            schema: self.schema.clone(),
        })
    }
}

fn check_kind(k: &Kustomization, kfile: &str, dir: &str, component: bool) -> Result<()> {
    let kind = k.kind.as_deref().unwrap_or("Kustomization");
    match (kind, component) {
        ("Kustomization", false) | ("Component", true) => {}
        ("Kustomization", true) => {
            return Err(Error::in_file(
                kfile,
                format!("expected kind 'Component' for path '{dir}' but got 'Kustomization'"),
            ));
        }
        ("Component", false) => {
            return Err(Error::in_file(
                kfile,
                format!("expected kind != 'Component' for path '{dir}'"),
            ));
        }
        (other, _) => {
            return Err(Error::in_file(
                kfile,
                format!(
                    "kind '{other}' is not a valid kind for a kustomization; use Kustomization or Component"
                ),
            ));
        }
    }
    let want = if kind == "Component" {
        "kustomize.config.k8s.io/v1alpha1"
    } else {
        "kustomize.config.k8s.io/v1beta1"
    };
    if let Some(v) = k
        .api_version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != want)
    {
        return Err(Error::in_file(
            kfile,
            format!("apiVersion for {kind} should be {want}, not {v}"),
        ));
    }
    Ok(())
}

/// Parse every non-empty YAML document of a file of objects.
pub fn parse_docs(file: &str, bytes: &[u8]) -> Result<Vec<Value>> {
    parse_docs_as(file, bytes, Schema::Object)
}

/// Parse every non-empty YAML document of a file read with `schema`.
pub fn parse_docs_as(file: &str, bytes: &[u8], schema: Schema) -> Result<Vec<Value>> {
    crate::yaml::parse_documents(bytes, schema)
        .map(|d| d.into_iter().flatten().collect())
        .map_err(|e| Error::in_file(file, yaml_error(&e)))
}

/// A YAML error as kustomize words it: syntax errors with their place,
/// its own messages (repeated keys) with their line.
pub fn yaml_error(e: &sluice_plugin_sdk::yaml::ParseError) -> String {
    if e.message.starts_with("mapping key") || e.message.starts_with("json:") {
        match e.line {
            Some(l) => format!("line {l}: {}", e.message),
            None => e.message.clone(),
        }
    } else {
        format!("YAML syntax error at {e}")
    }
}

fn expand_list(doc: Value) -> Vec<Value> {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && doc.get("items").is_some_and(Value::is_array);
    if is_list && let Some(Value::Array(items)) = doc.get("items") {
        return items.clone();
    }
    vec![doc]
}

fn check_object(obj: &Value, file: &str) -> Result<()> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !obj.is_object() || kind.is_empty() {
        return Err(Error::in_file(
            file,
            format!("missing Resource metadata: kind is required in {obj}"),
        ));
    }
    if obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
        && obj.pointer("/metadata/generateName").is_none()
    {
        return Err(Error::in_file(
            file,
            format!(
                "missing metadata.name in object of kind {kind} (a kustomization is listed by its directory, not its file)"
            ),
        ));
    }
    Ok(())
}

/// `crds:` files hold OpenAPI definitions (a map from definition name to
/// `{Schema, Dependencies}`), not CustomResourceDefinition objects;
/// kustomize refuses anything else.
fn check_openapi_definitions(file: &str, docs: &[Value]) -> Result<()> {
    for d in docs {
        let ok = d
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_object));
        if !ok {
            return Err(Error::in_file(
                file,
                format!(
                    "loading CRDs: unable to parse open API definition from '{}': a crds file maps definition names to OpenAPI schemas (list CustomResourceDefinition objects under resources instead)",
                    paths::base(file)
                ),
            ));
        }
    }
    Ok(())
}

/// The transformer configuration a `crds:` file implies, as kustomize
/// derives it: for each definition that looks like a Kubernetes type
/// (`kind`, `apiVersion` and `metadata` properties; its kind is the last
/// `.`-separated part of its name), properties marked
/// `x-kubernetes-annotation`, `x-kubernetes-label-selector` or
/// `x-kubernetes-identity` get the annotation, label or name-prefix
/// transformers, and `x-kubernetes-object-ref-api-version` /
/// `x-kubernetes-object-ref-kind` make a name reference (to the property's
/// `x-kubernetes-object-ref-name-key`, default `name`). `$ref`s are
/// followed.
fn crd_config(doc: &Value) -> Config {
    let mut c = Config::default();
    let Some(defs) = doc.as_object() else {
        return c;
    };
    for (name, def) in defs {
        let props = def.pointer("/Schema/properties");
        let is_type = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| props.and_then(|p| p.get(*k)).is_some());
        if !is_type {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        let gvk = Gvk {
            kind: kind.to_string(),
            ..Gvk::default()
        };
        crd_walk(&mut c, &gvk, defs, name, &mut Vec::new(), 0);
    }
    c
}

fn crd_walk(
    c: &mut Config,
    gvk: &Gvk,
    defs: &serde_json::Map<String, Value>,
    type_name: &str,
    path: &mut Vec<String>,
    depth: usize,
) {
    // Recursive definitions end somewhere; kustomize would loop forever.
    if depth > 32 {
        return;
    }
    let Some(props) = defs
        .get(type_name)
        .and_then(|d| d.pointer("/Schema/properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for (prop, schema) in props {
        path.push(prop.clone());
        let fs = |extra: &[&str]| {
            let mut p = path.join("/");
            for e in extra {
                p = format!("{p}/{e}");
            }
            FieldSpec::new(gvk.clone(), &p, false)
        };
        let s = |k: &str| schema.get(k).and_then(Value::as_str);
        if s("x-kubernetes-annotation").is_some() {
            c.common_annotations.push(fs(&[]));
        }
        if s("x-kubernetes-label-selector").is_some() {
            c.common_labels.push(fs(&[]));
        }
        if s("x-kubernetes-identity").is_some() {
            c.name_prefix.push(fs(&[]));
        }
        if let (Some(version), Some(kind)) = (
            s("x-kubernetes-object-ref-api-version"),
            s("x-kubernetes-object-ref-kind"),
        ) {
            let key = s("x-kubernetes-object-ref-name-key").unwrap_or("name");
            c.add_name_refs(
                Gvk {
                    kind: kind.to_string(),
                    version: version.to_string(),
                    ..Gvk::default()
                },
                vec![fs(&[key])],
            );
        }
        if let Some(r) = s("$ref") {
            let r = r.trim_start_matches("#/definitions/");
            crd_walk(c, gvk, defs, r, path, depth + 1);
        }
        path.pop();
    }
}
