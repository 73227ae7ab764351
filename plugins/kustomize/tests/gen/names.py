"""Prefixes and suffixes with name references, components, replacements,
vars, configurations, builtin transformers, build metadata."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

BASE = {"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
        "base/deployment.yaml": DEPLOY, "base/service.yaml": SERVICE, "base/configmap.yaml": CONFIGMAP}
def ov(k, extra=None, base=None):
    files = dict(BASE)
    if base:
        files["base/kustomization.yaml"] = d(base)
    files["overlay/kustomization.yaml"] = d(k)
    files["entry"] = "overlay"
    for p, t in (extra or {}).items():
        files[p] = d(t) if isinstance(t, str) else t
    return files

RBAC = d("""
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: app-role}
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [web-config]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app-role}
subjects:
- {kind: ServiceAccount, name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: app-cr}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: app-crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: app-cr}
subjects:
- {kind: ServiceAccount, name: app, namespace: default}
""")
WORKLOADS = d("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db-headless
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      serviceAccountName: app
      priorityClassName: high
      containers: [{name: db, image: pg}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: shared-data}
  volumeClaimTemplates:
  - metadata: {name: wal}
    spec: {storageClassName: fast, accessModes: [ReadWriteOnce]}
---
apiVersion: v1
kind: Service
metadata: {name: db-headless}
spec: {clusterIP: None, selector: {app: db}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared-data}
spec: {storageClassName: fast, accessModes: [ReadWriteMany]}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: x
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: db-hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing
  annotations:
    nginx.ingress.kubernetes.io/auth-secret: basic-auth
spec:
  ingressClassName: nginx
  tls: [{hosts: [a.example], secretName: tls-cert}]
  rules:
  - host: a.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: db-headless, port: {number: 80}}}
---
apiVersion: v1
kind: Secret
metadata: {name: basic-auth}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-cert}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
""")
CASES = {}
CASES["prefix-basic"] = ov("namePrefix: dev-\nresources: [../base]\n")
CASES["suffix-basic"] = ov("nameSuffix: -v2\nresources: [../base]\n")
CASES["prefix-and-suffix-layers"] = ov("namePrefix: top-\nnameSuffix: -t\nresources: [../base]\n", base="namePrefix: base-\nnameSuffix: -b\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n")
CASES["prefix-rbac-references"] = {"kustomization.yaml": "namePrefix: p-\nresources: [rbac.yaml, configmap.yaml]\n", "rbac.yaml": RBAC, "configmap.yaml": CONFIGMAP}
CASES["prefix-rbac-with-namespace"] = {"kustomization.yaml": "namePrefix: p-\nnamespace: team\nresources: [rbac.yaml]\n", "rbac.yaml": RBAC}
CASES["prefix-workload-references"] = {"kustomization.yaml": "namePrefix: p-\nresources: [w.yaml, rbac.yaml]\n", "w.yaml": WORKLOADS, "rbac.yaml": RBAC}
CASES["suffix-workload-references-namespaced"] = {"kustomization.yaml": "nameSuffix: -s\nnamespace: data\nresources: [w.yaml, rbac.yaml]\n", "w.yaml": WORKLOADS, "rbac.yaml": RBAC}
CASES["prefix-skips-crd-and-namespace"] = {"kustomization.yaml": "namePrefix: p-\nresources: [r.yaml]\n", "r.yaml": d("""
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: []}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
""")}
CASES["prefix-reference-to-external-name-untouched"] = {"kustomization.yaml": "namePrefix: p-\nresources: [d.yaml]\n", "d.yaml": DEPLOY}
CASES["prefix-two-bases-same-configmap-name"] = {
    "a/kustomization.yaml": "namePrefix: a-\nresources: [d.yaml, cm.yaml]\n", "a/d.yaml": DEPLOY, "a/cm.yaml": CONFIGMAP,
    "b/kustomization.yaml": "namePrefix: b-\nresources: [d.yaml, cm.yaml]\n", "b/d.yaml": DEPLOY.replace("name: web\n  labels", "name: web2\n  labels"), "b/cm.yaml": CONFIGMAP,
    "all/kustomization.yaml": "resources: [../a, ../b]\n", "entry": "all"}
CASES["prefix-generated-configmap-in-base"] = {"base/kustomization.yaml": "namePrefix: b-\nresources: [d.yaml]\nconfigMapGenerator:\n- name: web-config\n  literals: [A=1]\n", "base/d.yaml": DEPLOY,
    "overlay/kustomization.yaml": "namePrefix: o-\nnamespace: prod\nresources: [../base]\n", "entry": "overlay"}
CASES["prefix-webhook-service-reference"] = {"kustomization.yaml": "namePrefix: p-\nnamespace: sys\nresources: [r.yaml]\n", "r.yaml": d("""
apiVersion: v1
kind: Service
metadata: {name: webhook}
spec: {ports: [{port: 443}]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc}
webhooks:
- name: check.example.com
  clientConfig:
    service: {name: webhook, namespace: sys, path: /validate}
  admissionReviewVersions: [v1]
  sideEffects: None
""")}

# components
COMP = {"base/kustomization.yaml": "resources: [deployment.yaml, configmap.yaml]\n", "base/deployment.yaml": DEPLOY, "base/configmap.yaml": CONFIGMAP}
CASES["component-basic"] = {**COMP,
    "components/monitoring/kustomization.yaml": d("""
    apiVersion: kustomize.config.k8s.io/v1alpha1
    kind: Component
    resources: [sm.yaml]
    commonLabels: {monitored: "true"}
    patches:
    - target: {kind: Deployment}
      patch: |-
        - op: add
          path: /spec/template/metadata/annotations
          value: {prometheus.io/scrape: "true"}
    """),
    "components/monitoring/sm.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}}\n",
    "overlay/kustomization.yaml": "resources: [../base]\ncomponents: [../components/monitoring]\n", "entry": "overlay"}
CASES["component-with-generator"] = {**COMP,
    "components/feature/kustomization.yaml": d("""
    apiVersion: kustomize.config.k8s.io/v1alpha1
    kind: Component
    configMapGenerator:
    - name: web-config
      behavior: merge
      literals: [FEATURE_X=on]
    secretGenerator:
    - name: feature-secret
      literals: [K=v]
    """),
    "overlay/kustomization.yaml": "resources: [../base]\ncomponents: [../components/feature]\nnamePrefix: prod-\n", "entry": "overlay"}
CASES["component-order-matters"] = {**COMP,
    "c1/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 2\n",
    "c2/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n",
    "overlay/kustomization.yaml": "resources: [../base]\ncomponents: [../c2, ../c1]\n", "entry": "overlay"}
CASES["component-sees-generated-of-parent"] = {**COMP,
    "c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- target: {kind: ConfigMap, name: extra}\n  patch: |-\n    - op: add\n      path: /data/fromComponent\n      value: \"yes\"\n",
    "overlay/kustomization.yaml": "resources: [../base]\nconfigMapGenerator:\n- name: extra\n  literals: [A=1]\ncomponents: [../c]\n", "entry": "overlay"}
CASES["component-nested-components"] = {**COMP,
    "inner/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {inner: applied}\n",
    "outer/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncomponents: [../inner]\nnamePrefix: outer-\n",
    "overlay/kustomization.yaml": "resources: [../base]\ncomponents: [../outer]\n", "entry": "overlay"}
CASES["component-kustomization-kind-error"] = {**COMP, "c/kustomization.yaml": "commonLabels: {a: b}\n",
    "overlay/kustomization.yaml": "resources: [../base]\ncomponents: [../c]\n", "entry": "overlay", "expected-error.txt": "expected kind 'Component'"}
CASES["component-used-in-two-overlays-of-one-base"] = {**COMP,
    "c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: nginx\n  newTag: c\n",
    "o1/kustomization.yaml": "resources: [../base]\ncomponents: [../c]\nnamePrefix: one-\n",
    "o2/kustomization.yaml": "resources: [../base]\nnamePrefix: two-\n",
    "all/kustomization.yaml": "resources: [../o1, ../o2]\n", "entry": "all"}

# replacements
REPL_RES = d("""
apiVersion: v1
kind: ConfigMap
metadata: {name: env}
data:
  HOST: db.internal
  IMAGE_TAG: "1.2.3"
  CSV: a,b,c
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  template:
    metadata:
      annotations: {host: placeholder}
    spec:
      containers:
      - name: web
        image: nginx:latest
        env:
        - {name: DB_HOST, value: x}
      - name: sidecar
        image: envoy:latest
""")
def repl(r, extra=None):
    out = {"kustomization.yaml": "resources: [r.yaml]\n" + d(r), "r.yaml": REPL_RES}
    out.update(extra or {})
    return out
CASES["replacements-basic"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: data.HOST}
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - spec.template.spec.containers.[name=web].env.[name=DB_HOST].value
    - spec.template.metadata.annotations.host
""")
CASES["replacements-delimiter-index"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: data.IMAGE_TAG}
  targets:
  - select: {kind: Deployment, name: web}
    fieldPaths:
    - spec.template.spec.containers.[name=web].image
    options: {delimiter: ":", index: 1}
- source: {kind: ConfigMap, name: env, fieldPath: data.HOST}
  targets:
  - select: {kind: ConfigMap}
    fieldPaths: [data.CSV]
    options: {delimiter: ",", index: 1}
""")
CASES["replacements-create"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: data.HOST}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.template.metadata.labels.host, metadata.annotations.copied]
    options: {create: true}
""")
CASES["replacements-reject"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: metadata.name}
  targets:
  - select: {kind: ConfigMap}
    reject: [{name: env}]
    fieldPaths: [data.ref]
  - select: {kind: Deployment}
    reject: [{kind: Deployment, name: other}]
    fieldPaths: [spec.template.metadata.annotations.host]
""")
CASES["replacements-from-file"] = repl("replacements:\n- path: repl.yaml\n", {"repl.yaml": d("""
source: {kind: Deployment, name: web, fieldPath: spec.replicas}
targets:
- select: {kind: ConfigMap, name: env}
  fieldPaths: [data.IMAGE_TAG]
""")})
CASES["replacements-missing-target-field-error"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: data.HOST}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.nothing.here]
""")
CASES["replacements-missing-target-field-error"]["expected-error.txt"] = "unable to find field"
CASES["replacements-source-after-prefix"] = repl("""
namePrefix: p-
replacements:
- source: {kind: ConfigMap, name: env}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.template.metadata.annotations.host]
""")
CASES["replacements-index-wildcard"] = repl("""
replacements:
- source: {kind: ConfigMap, name: env, fieldPath: data.IMAGE_TAG}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.template.spec.containers.*.image]
    options: {delimiter: ":", index: 1}
""")

# vars
CASES["vars-service-name"] = {"kustomization.yaml": d("""
namePrefix: p-
resources: [r.yaml]
vars:
- name: SVC
  objref: {kind: Service, name: web, apiVersion: v1}
- name: PORT
  objref: {kind: Service, name: web, apiVersion: v1}
  fieldref:
    fieldpath: spec.ports[0].port
"""), "r.yaml": SERVICE + "---\n" + d("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  template:
    spec:
      containers:
      - name: c
        image: curl
        command: [curl, "http://$(SVC):$(PORT)/"]
        env:
        - {name: TARGET, value: $(SVC)}
        - {name: UNKNOWN, value: $(NOPE)}
""")}
CASES["vars-missing-object-error"] = {"kustomization.yaml": "resources: [cm.yaml]\nvars:\n- name: X\n  objref: {kind: Service, name: nope, apiVersion: v1}\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "cannot be mapped to a field"}

# configurations
CASES["configurations-custom-nameref"] = {"kustomization.yaml": d("""
namePrefix: p-
resources: [r.yaml]
configurations: [conf.yaml]
configMapGenerator:
- name: settings
  literals: [A=1]
"""), "conf.yaml": d("""
nameReference:
- kind: ConfigMap
  version: v1
  fieldSpecs:
  - path: spec/configRef
    kind: Widget
commonLabels:
- path: spec/selector
  kind: Widget
  create: true
"""), "r.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  configRef: settings\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings-static}\n"}
CASES["configurations-custom-labels"] = {"kustomization.yaml": "commonLabels: {team: x}\nresources: [r.yaml]\nconfigurations: [conf.yaml]\n", "conf.yaml": "commonLabels:\n- path: spec/podLabels\n  kind: Widget\n  create: true\n", "r.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"}

# builtin transformers
CASES["builtin-prefix-suffix-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: PrefixSuffixTransformer
metadata: {name: ps}
prefix: bt-
suffix: -x
fieldSpecs:
- path: metadata/name
"""})
CASES["builtin-label-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: LabelTransformer
metadata: {name: lt}
labels: {via: plugin}
fieldSpecs:
- path: metadata/labels
  create: true
"""})
CASES["builtin-annotations-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: AnnotationsTransformer
metadata: {name: at}
annotations: {via: plugin}
fieldSpecs:
- path: metadata/annotations
  create: true
- kind: Deployment
  path: spec/template/metadata/annotations
  create: true
"""})
CASES["builtin-patch-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: PatchTransformer
metadata: {name: pt}
target: {kind: Deployment}
patch: '[{"op": "replace", "path": "/spec/replicas", "value": 4}]'
"""})
CASES["builtin-image-tag-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: ImageTagTransformer
metadata: {name: it}
imageTag: {name: nginx, newTag: from-plugin}
"""})
CASES["builtin-namespace-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: NamespaceTransformer
metadata: {name: nt, namespace: plugin-ns}
fieldSpecs:
- path: metadata/namespace
  create: true
"""})
CASES["builtin-replica-count-transformer"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: builtin
kind: ReplicaCountTransformer
metadata: {name: rc}
replica: {name: web, count: 11}
fieldSpecs:
- path: spec/replicas
  create: true
  kind: Deployment
"""})
CASES["exec-plugin-error"] = ov("resources: [../base]\ntransformers: [t.yaml]\n", {"overlay/t.yaml": """
apiVersion: example.com/v1
kind: MyTransformer
metadata:
  name: mine
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./plugin.sh
"""})
CASES["exec-plugin-error"]["expected-error.txt"] = "unable to load external plugin 'MyTransformer'"

# build metadata
CASES["buildmetadata-managed-by"] = {"kustomization.yaml": "buildMetadata: [managedByLabel]\nresources: [cm.yaml]\n", "cm.yaml": CONFIGMAP}
CASES["buildmetadata-origin"] = {"kustomization.yaml": "buildMetadata: [originAnnotations]\nresources: [cm.yaml]\n", "cm.yaml": CONFIGMAP}
