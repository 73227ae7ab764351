"""Cases for what real repositories and kustomize's own behaviour showed
missing (issue 15): YAML as kustomize reads it, namespace removal, Flux
Kustomizations, objects without apiVersion, numeric list indexes, repeated
keys, build metadata, components built directly, generator labels."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

CASES = {}

# --- YAML 1.1 numbers, as kustomize (and the API server) read them -------
CASES["yaml11-default-mode-octal"] = {"kustomization.yaml": "resources:\n- deploy.yaml\n", "deploy.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.5.0
        volumeMounts:
        - {name: data, mountPath: /data}
      volumes:
      - name: data
        configMap:
          name: podinfo
          defaultMode: 0755
          items:
          - {key: a, path: a, mode: 0644}
      - name: secret
        secret:
          secretName: s
          defaultMode: 0o400
""")}
CASES["yaml11-number-forms"] = {"kustomization.yaml": "resources:\n- cm.yaml\n", "cm.yaml": d("""
apiVersion: example.com/v1
kind: Numbers
metadata:
  name: forms
spec:
  octal: 0755
  octalNew: 0o755
  octalSigned: +0755
  negativeOctal: -0755
  octalUnderscore: 0_755
  hex: 0x1F
  hexUpper: 0X1f
  binary: 0b101
  thousands: 1_000
  eightLeadingZero: 08
  plus: +12
  exponent: 1e3
  integralFloat: 1.0
  fraction: 1.50
  underscoredFloat: 1_0.5
  quotedOctal: "0755"
  singleQuoted: '1_000'
  taggedString: !!str 0755
  sexagesimal: 1:30
  leadingUnderscore: _10
  yes: yes
  on: off
  date: 2001-12-14
  stamp: 2001-12-14T21:59:43.10-05:00
  quotedDate: "2001-12-14"
""")}
CASES["yaml11-numbers-in-patches"] = {"kustomization.yaml": d("""
resources:
- cm.yaml
patches:
- path: smp.yaml
- target: {kind: ConfigMap, name: app}
  patch: |-
    - op: add
      path: /spec
      value: {mode: 0755, flag: on, plain: yes}
"""), "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: x\n",
    "smp.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\nextra:\n  mode: 0644\n  word: yes\n"}
CASES["yaml-infinity-error"] = {"kustomization.yaml": "resources:\n- cm.yaml\n", "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\nspec:\n  x: .inf\n", "expected-error.txt": "json: unsupported value: +Inf"}
CASES["yaml-merge-keys"] = {"kustomization.yaml": "resources:\n- cm.yaml\n", "cm.yaml": d("""
apiVersion: v1
kind: ConfigMap
metadata:
  name: merged
  labels: &common
    team: a
    tier: web
  annotations:
    <<: *common
    tier: override
data:
  k: v
""")}

# --- repeated mapping keys ---------------------------------------------
CASES["yaml-repeated-key-in-resource-error"] = {"kustomization.yaml": "resources:\n- deploy.yaml\n", "deploy.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  selector:
    matchLabels:
      app: podinfo
  template:
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:5.0.3
        env:
        - name: COLOR
          value: "#34577c"
        env:
        - name: COLOR
          value: "#000000"
"""), "expected-error.txt": "mapping key \"env\" already defined"}
CASES["yaml-repeated-key-in-kustomization-last-wins"] = {"kustomization.yaml": "resources:\n- cm.yaml\nnamePrefix: first-\nnamePrefix: second-\ncommonLabels:\n  team: a\n  team: b\n", "cm.yaml": CONFIGMAP}
CASES["yaml-repeated-key-in-json-patch-last-wins"] = {"kustomization.yaml": d("""
resources:
- cm.yaml
patches:
- target: {kind: ConfigMap}
  patch: |-
    - op: add
      path: /data/extra
      value: one
      value: two
"""), "cm.yaml": CONFIGMAP}
CASES["yaml-kustomization-reads-yaml11-booleans-error"] = {"kustomization.yaml": "resources:\n- cm.yaml\ncommonLabels:\n  enabled: yes\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "cannot unmarshal bool into Go"}

# --- namespace removal, Flux, objects without apiVersion ---------------
CASES["json6902-remove-namespace"] = {"kustomization.yaml": d("""
resources:
- r.yaml
patches:
- target: {kind: ConfigMap, name: web-config}
  patch: |-
    - op: remove
      path: /metadata/namespace
"""), "r.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: dev\ndata:\n  a: b\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: dev\n"}
CASES["json6902-remove-namespace-then-namespace"] = {
    "base/kustomization.yaml": d("""
resources:
- r.yaml
patches:
- target: {kind: ConfigMap}
  patch: |-
    - op: remove
      path: /metadata/namespace
"""), "base/r.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: dev\n",
    "overlay/kustomization.yaml": "resources:\n- ../base\nnamePrefix: o-\n", "entry": "overlay"}
FLUX = d("""
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/production
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://example.com/fleet.git
""")
CASES["flux-kustomization-as-resource"] = {"kustomization.yaml": "resources:\n- apps.yaml\n", "apps.yaml": FLUX}
CASES["flux-multi-tenancy-layout"] = {
    "clusters/production/kustomization.yaml": "resources:\n- flux-system\n- ../../tenants/production\n",
    "clusters/production/flux-system/kustomization.yaml": "resources:\n- sync.yaml\n",
    "clusters/production/flux-system/sync.yaml": FLUX,
    "tenants/base/team-a/kustomization.yaml": "resources:\n- rbac.yaml\n- sync.yaml\n",
    "tenants/base/team-a/rbac.yaml": d("""
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: team-a
  namespace: team-a
"""),
    "tenants/base/team-a/sync.yaml": d("""
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: team-a
  namespace: team-a
spec:
  interval: 5m
  serviceAccountName: team-a
  path: ./
  sourceRef:
    kind: GitRepository
    name: team-a
"""),
    "tenants/production/kustomization.yaml": d("""
resources:
- ../base/team-a
patches:
- target: {kind: Kustomization, group: kustomize.toolkit.fluxcd.io}
  patch: |-
    - op: replace
      path: /spec/path
      value: ./production
"""),
    "entry": "clusters/production"}
CASES["kustomize-kind-file-with-name-as-resource"] = {"kustomization.yaml": "resources:\n- k.yaml\nnamePrefix: p-\n", "k.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: listed\nresources: []\n"}
CASES["resource-without-apiversion"] = {"kustomization.yaml": "resources:\n- w.yaml\nnamespace: prod\ncommonLabels: {team: a}\n", "w.yaml": "kind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n"}

# --- numeric list indexes in field paths --------------------------------
CASES["replacements-numeric-list-index"] = {"kustomization.yaml": d("""
resources:
- deploy.yaml
- cm.yaml
replacements:
- source:
    kind: Deployment
    name: web
    fieldPath: spec.template.spec.containers.0.image
  targets:
  - select: {kind: ConfigMap, name: web-config}
    fieldPaths: [data.IMAGE]
- source:
    kind: ConfigMap
    name: web-config
    fieldPath: data.LOG_LEVEL
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - spec.template.spec.containers.0.env.0.value
    - spec.template.spec.containers.1.args.0
"""), "deploy.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - name: LEVEL
          value: x
      - name: sidecar
        image: busybox
        args: [placeholder, two]
"""), "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  LOG_LEVEL: debug\n  IMAGE: none\n"}

# --- build metadata ------------------------------------------------------
BM_BASE = {
    "base/kustomization.yaml": d("""
resources:
- service.yaml
namePrefix: b-
labels:
- pairs: {app: web}
  includeSelectors: true
configMapGenerator:
- name: gen
  literals: [a=b]
"""), "base/service.yaml": SERVICE}
def bm(k):
    files = dict(BM_BASE)
    files["overlay/kustomization.yaml"] = d(k)
    files["entry"] = "overlay"
    return files
CASES["buildmetadata-transformer-annotations-overlay"] = bm("""
resources:
- ../base
namespace: prod
commonAnnotations: {team: a}
patches:
- target: {kind: Service}
  patch: |-
    - op: add
      path: /spec/type
      value: NodePort
images:
- name: nginx
  newTag: "2"
buildMetadata: [transformerAnnotations]
""")
CASES["buildmetadata-origin-overlay-relative-paths"] = bm("""
resources:
- ../base
- extra/cm.yaml
secretGenerator:
- name: s
  literals: [k=v]
buildMetadata: [originAnnotations]
""")
CASES["buildmetadata-origin-overlay-relative-paths"]["overlay/extra/cm.yaml"] = CONFIGMAP
CASES["buildmetadata-all-three"] = bm("""
resources:
- ../base
nameSuffix: -s
replicas: []
transformers:
- labeller.yaml
buildMetadata: [originAnnotations, transformerAnnotations, managedByLabel]
""")
CASES["buildmetadata-all-three"]["overlay/labeller.yaml"] = d("""
apiVersion: builtin
kind: LabelTransformer
metadata:
  name: labeller
labels:
  owner: platform
fieldSpecs:
- path: metadata/labels
  create: true
""")
CASES["buildmetadata-only-in-base-is-ignored"] = {
    "base/kustomization.yaml": "resources:\n- service.yaml\nnamePrefix: b-\nbuildMetadata: [originAnnotations, transformerAnnotations, managedByLabel]\n",
    "base/service.yaml": SERVICE,
    "overlay/kustomization.yaml": "resources:\n- ../base\n", "entry": "overlay"}

# --- components built directly, generator options -----------------------
CASES["component-built-directly"] = {"kustomization.yaml": d("""
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
- cm.yaml
namePrefix: c-
configMapGenerator:
- name: gen
  literals: [a=b]
"""), "cm.yaml": CONFIGMAP}
CASES["generator-options-labels-and-annotations"] = {"kustomization.yaml": d("""
resources:
- deploy.yaml
generatorOptions:
  labels:
    generated: "true"
    scope: global
  annotations:
    note: global
configMapGenerator:
- name: web-config
  literals: [LOG_LEVEL=info]
  options:
    labels:
      scope: local
      app: web
    annotations:
      note: local
secretGenerator:
- name: creds
  literals: [password=secret]
  options:
    disableNameSuffixHash: true
    labels:
      kind: secret
"""), "deploy.yaml": DEPLOY}
CASES["images-numeric-new-tag-error"] = {"kustomization.yaml": "resources: [deploy.yaml]\nimages:\n- name: nginx\n  newTag: 1.10\n", "deploy.yaml": DEPLOY,
    "expected-error.txt": "cannot unmarshal number into Go struct field Image.images.newTag of type string"}
