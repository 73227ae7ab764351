"""Behaviours exercised by kustomize's own end-to-end suite (api/krusty),
written as our own file trees: vars told apart by base and namespace,
custom configurations for custom resources, the IAMPolicyGenerator and
ValueAddTransformer builtins, patches by intermediate names, custom OpenAPI
schemas. Expectations come from `kubectl kustomize` (tests/regen.sh)."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

CASES = {}

# --- vars ----------------------------------------------------------------
def search_layer(env):
    return {
        f"stack/{env}/kustomization.yaml": d(f"""
namePrefix: {env}-
resources:
- search.yaml
vars:
- name: {env}-search-service
  objref:
    kind: Service
    name: search
    apiVersion: v1
  fieldref:
    fieldpath: metadata.name
"""),
        f"stack/{env}/search.yaml": d(f"""
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: search
spec:
  serviceName: search
  template:
    spec:
      containers:
      - name: search
        image: opensearch:2
        env:
        - name: DISCOVERY
          value: "$({env}-search-service).search.svc.cluster.local"
---
apiVersion: v1
kind: Service
metadata:
  name: search
spec:
  clusterIP: None
  ports:
  - name: transport
    port: 9300
"""),
    }
CASES["vars-told-apart-by-declaring-base"] = {
    "stack/kustomization.yaml": "namePrefix: all-\nresources:\n- staging\n- qa\n",
    **search_layer("staging"), **search_layer("qa"), "entry": "stack"}
CASES["vars-told-apart-by-namespace"] = {"kustomization.yaml": d("""
resources:
- r.yaml
vars:
- name: DB_HOST
  objref: {kind: Service, name: db, namespace: blue, apiVersion: v1}
  fieldref: {fieldpath: metadata.name}
- name: DB_PORT
  objref: {kind: Service, name: db, namespace: green, apiVersion: v1}
  fieldref: {fieldpath: "spec.ports[0].port"}
"""), "r.yaml": d("""
apiVersion: v1
kind: Service
metadata: {name: db, namespace: blue}
spec:
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: green}
spec:
  ports: [{port: 6432}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: blue}
spec:
  containers:
  - name: c
    image: psql
    command: [psql, "--host=$(DB_HOST)", "--port=$(DB_PORT)"]
""")}
CASES["vars-ambiguous-without-namespace-error"] = {"kustomization.yaml": d("""
resources:
- r.yaml
vars:
- name: DB_HOST
  objref: {kind: Service, name: db, apiVersion: v1}
"""), "r.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: blue}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: green}\n",
    "expected-error.txt": "found 2 resId matches for var"}
CASES["vars-same-name-in-two-bases-error"] = {
    "one/kustomization.yaml": "resources: [pod.yaml]\nnamePrefix: one-\nvars:\n- name: POD\n  objref: {kind: Pod, name: p, apiVersion: v1}\n",
    "one/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x, args: [\"$(POD)\"]}\n",
    "two/kustomization.yaml": "resources: [pod.yaml]\nnamePrefix: two-\nvars:\n- name: POD\n  objref: {kind: Pod, name: p, apiVersion: v1}\n",
    "two/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x, args: [\"$(POD)\"]}\n",
    "top/kustomization.yaml": "resources: [../one, ../two]\n", "entry": "top",
    "expected-error.txt": "var 'POD' already encountered"}

# --- configurations for custom resources --------------------------------
ZOO = {
    "zoo/kustomization.yaml": d("""
namePrefix: z-
commonLabels:
  park: city
resources:
- park.yaml
- animals.yaml
vars:
- name: OTTER_FOOD
  objref: {group: zoo.example.com, version: v1, kind: Otter, name: olive}
  fieldref: {fieldpath: spec.food}
- name: HERON_FOOD
  objref: {apiVersion: zoo.example.com/v1, kind: Heron, name: hugo}
  fieldref: {fieldpath: spec.food}
configurations:
- config/zoo.yaml
"""),
    "zoo/park.yaml": d("""
apiVersion: zoo.example.com/v1
kind: Park
metadata:
  name: riverside
spec:
  otterRef: {name: olive}
  heronRefs:
  - name: hugo
  feeding:
  - "$(OTTER_FOOD)"
  - "$(HERON_FOOD) at noon"
  selector: {}
"""),
    "zoo/animals.yaml": d("""
apiVersion: zoo.example.com/v1
kind: Otter
metadata:
  name: olive
spec:
  food: fish
---
apiVersion: zoo.example.com/v1
kind: Heron
metadata:
  name: hugo
spec:
  food: frogs
"""),
    "zoo/config/zoo.yaml": d("""
nameReference:
- kind: Otter
  group: zoo.example.com
  fieldSpecs:
  - kind: Park
    path: spec/otterRef/name
- kind: Heron
  fieldSpecs:
  - kind: Park
    path: spec/heronRefs/name
varReference:
- kind: Park
  path: spec/feeding
commonLabels:
- kind: Park
  path: spec/selector
  create: true
"""),
    "entry": "zoo"}
CASES["configurations-custom-resources-names-vars-labels"] = ZOO
CASES["configurations-from-base-used-in-overlay"] = {**ZOO,
    "overlay/kustomization.yaml": "resources:\n- ../zoo\nnamePrefix: o-\ncommonLabels:\n  tier: prod\n", "entry": "overlay"}
CASES["configurations-images-and-replicas-for-custom-kind"] = {"kustomization.yaml": d("""
resources:
- runner.yaml
configurations:
- config.yaml
images:
- name: worker
  newName: registry.example.com/worker
  newTag: "2.0"
replicas:
- name: batch
  count: 7
"""), "config.yaml": d("""
images:
- kind: Runner
  path: spec/workerImage
replicas:
- kind: Runner
  path: spec/parallelism
  create: true
"""), "runner.yaml": d("""
apiVersion: batch.example.com/v1
kind: Runner
metadata:
  name: batch
spec:
  workerImage: worker:1.0
""")}

# --- builtins that have no kustomization field -------------------------
CASES["builtin-iam-policy-generator"] = {"kustomization.yaml": d("""
generators:
- |-
  apiVersion: builtin
  kind: IAMPolicyGenerator
  metadata:
    name: workload-identity
  cloud: gke
  kubernetesService:
    name: app
  serviceAccount:
    name: app-gsa
    projectId: my-project
- iam-ns.yaml
"""), "iam-ns.yaml": d("""
apiVersion: builtin
kind: IAMPolicyGenerator
metadata:
  name: with-namespace
cloud: gke
kubernetesService:
  namespace: jobs
  name: runner
serviceAccount:
  name: runner-gsa
  projectId: my-project
""")}
CASES["builtin-iam-policy-generator-unknown-cloud-error"] = {"kustomization.yaml": "generators:\n- |-\n  apiVersion: builtin\n  kind: IAMPolicyGenerator\n  metadata:\n    name: x\n  cloud: aws\n  kubernetesService: {name: a}\n  serviceAccount: {name: b, projectId: c}\n",
    "expected-error.txt": "cloud provider aws not supported yet"}
CASES["builtin-value-add-transformer"] = {"team-blue/kustomization.yaml": d("""
resources:
- r.yaml
transformers:
- valueadd.yaml
"""), "team-blue/valueadd.yaml": d("""
apiVersion: builtin
kind: ValueAddTransformer
metadata:
  name: add-team
targets:
- selector:
    kind: ConfigMap
  fieldPath: metadata/namespace
- selector:
    kind: Deployment
  fieldPath: spec/template/spec/containers/0/workingDir
  filePathPosition: 2
- selector:
    name: web
    kind: Deployment
  fieldPath: metadata/annotations/owner
"""), "team-blue/r.yaml": DEPLOY.replace("        image: nginx:1.25\n", "        image: nginx:1.25\n        workingDir: /srv/app/data\n") + "---\n" + CONFIGMAP,
    "entry": "team-blue"}
CASES["builtin-value-add-transformer-explicit-value"] = {"kustomization.yaml": d("""
resources:
- cm.yaml
transformers:
- |-
  apiVersion: builtin
  kind: ValueAddTransformer
  metadata:
    name: add
  value: "  shared  "
  targets:
  - fieldPath: data/owner
"""), "cm.yaml": CONFIGMAP}

# --- patches by intermediate names ----------------------------------------
def layered(extra_emea=None):
    files = {
        "base/kustomization.yaml": "resources:\n- deploy.yaml\n",
        "base/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: api:1\n",
        "prod/kustomization.yaml": "namePrefix: prod-\nresources:\n- ../base\n",
        "region/kustomization.yaml": "namePrefix: eu-\nresources:\n- ../prod\n" + ("- deploy.yaml\n" if extra_emea else ""),
        "cloud/kustomization.yaml": "namePrefix: gcp-\nresources:\n- ../region\npatches:\n- path: patch.yaml\n",
        "cloud/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prod-api\nspec:\n  replicas: 5\n",
        "entry": "cloud"}
    if extra_emea:
        files["region/deploy.yaml"] = extra_emea
    return files
CASES["patch-by-intermediate-name"] = layered()
CASES["patch-by-intermediate-name-same-name-other-layer"] = layered(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: api:2\n")
CASES["nameref-through-intermediate-generated-name"] = {
    "base/kustomization.yaml": "resources:\n- deploy.yaml\nconfigMapGenerator:\n- name: settings\n  literals: [A=1]\n",
    "base/deploy.yaml": DEPLOY.replace("web-config", "settings"),
    "mid/kustomization.yaml": "namePrefix: mid-\nresources:\n- ../base\nconfigMapGenerator:\n- name: settings\n  behavior: merge\n  literals: [B=2]\n",
    "top/kustomization.yaml": "namePrefix: top-\nresources:\n- ../mid\npatches:\n- path: patch.yaml\n",
    "top/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mid-web\nspec:\n  template:\n    spec:\n      volumes:\n      - name: extra\n        configMap:\n          name: mid-settings\n",
    "entry": "top"}

# --- custom OpenAPI schema (refused; see known-failures.txt) -------------
CASES["openapi-custom-schema-merge-keys"] = {"kustomization.yaml": d("""
resources:
- crd.yaml
openapi:
  path: schema.json
patches:
- patch: |-
    apiVersion: example.com/v1alpha1
    kind: Pipeline
    metadata:
      name: build
    spec:
      steps:
      - name: compile
        image: rust:2
"""), "crd.yaml": d("""
apiVersion: example.com/v1alpha1
kind: Pipeline
metadata:
  name: build
spec:
  steps:
  - name: compile
    image: rust:1
    args: [build]
  - name: test
    image: rust:1
"""), "schema.json": d("""
{
  "definitions": {
    "v1alpha1.Pipeline": {
      "type": "object",
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
          "type": "object",
          "properties": {
            "steps": {
              "type": "array",
              "items": {"$ref": "#/definitions/v1alpha1.Step"},
              "x-kubernetes-patch-merge-key": "name",
              "x-kubernetes-patch-strategy": "merge"
            }
          }
        }
      },
      "x-kubernetes-group-version-kind": [
        {"group": "example.com", "kind": "Pipeline", "version": "v1alpha1"}
      ]
    },
    "v1alpha1.Step": {
      "type": "object",
      "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"}
      }
    }
  }
}
""")}

# --- more areas of kustomize's suite --------------------------------------
CASES["kustomization-two-files-error"] = {"kustomization.yaml": "resources: [cm.yaml]\n", "kustomization.yml": "resources: [cm.yaml]\n", "cm.yaml": CONFIGMAP,
    "expected-error.txt": "Found multiple kustomization files under"}
CASES["local-config-dropped-after-transform"] = {"kustomization.yaml": d("""
resources:
- template.yaml
- deploy.yaml
replacements:
- source: {kind: Pod, name: template, fieldPath: spec}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.template.spec]
    options: {create: true}
"""), "template.yaml": d("""
apiVersion: v1
kind: Pod
metadata:
  name: template
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  containers:
  - name: app
    image: nginx
"""), "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"}
CASES["blank-subject-namespace-error"] = {"kustomization.yaml": "resources:\n- rb.yaml\n", "rb.yaml": d("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
subjects:
- kind: ServiceAccount
  name: app
  namespace:
roleRef:
  kind: Role
  name: r
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
"""), "expected-error.txt": "namespace is blank"}
CASES["keep-empty-arrays-and-maps"] = {"kustomization.yaml": "resources:\n- r.yaml\nnamePrefix: p-\ncommonLabels: {a: b}\n", "r.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers: []
      initContainers: []
      volumes: []
      nodeSelector: {}
""")}
CASES["kustomization-metadata-field"] = {"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: my-app\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\nresources:\n- cm.yaml\n", "cm.yaml": CONFIGMAP}
CASES["smp-envfrom-list-replaced"] = {"kustomization.yaml": "resources:\n- deploy.yaml\npatches:\n- path: patch.yaml\n", "deploy.yaml": DEPLOY,
    "patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        envFrom:\n        - secretRef:\n            name: extra\n"}
CASES["gen-multibyte-characters"] = {"kustomization.yaml": "configMapGenerator:\n- name: i18n\n  literals:\n  - greeting=こんにちは\n  - farewell=さようなら 👋\n  files:\n  - notes.txt\n", "notes.txt": "Ünïcödé — ok\n"}
CASES["rolebinding-subjects-across-namespaces"] = {"kustomization.yaml": "namespace: app\nnamePrefix: p-\nresources:\n- rbac.yaml\n", "rbac.yaml": d("""
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bind
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: default
- kind: ServiceAccount
  name: runner
- kind: ServiceAccount
  name: runner
  namespace: other
- kind: User
  name: jane
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cbind
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: ServiceAccount
  name: runner
  namespace: elsewhere
- kind: ServiceAccount
  name: default
""")}
CASES["resources-empty-list-and-suffix"] = {"kustomization.yaml": "nameSuffix: -s\nresources:\n- lists.yaml\n", "lists.yaml": "apiVersion: v1\nkind: List\nitems: []\n---\napiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n"}
CASES["smp-delete-missing-element-adds-nothing"] = {"kustomization.yaml": "resources:\n- deploy.yaml\npatches:\n- path: patch.yaml\n", "deploy.yaml": DEPLOY,
    "patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: absent\n        $patch: delete\n      volumes:\n      - name: nope\n        $patch: delete\n"}
CASES["pdb-selector-gets-common-labels"] = {"kustomization.yaml": "commonLabels: {team: a}\nnamePrefix: p-\nresources:\n- pdb.yaml\n", "pdb.yaml": "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: web\n"}
CASES["repeat-base-error"] = {"base/kustomization.yaml": "resources: [cm.yaml]\n", "base/cm.yaml": CONFIGMAP,
    "kustomization.yaml": "resources:\n- base\n- ./base/\n", "expected-error.txt": "already registered id"}
CASES["labels-do-not-create-arrays"] = {"kustomization.yaml": "commonLabels: {notIn: arrays}\nresources:\n- sts.yaml\n", "sts.yaml": d("""
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
""")}
CASES["webhook-service-namespace-and-prefix"] = {"kustomization.yaml": "namespace: system\nnamePrefix: p-\nresources:\n- hooks.yaml\n", "hooks.yaml": d("""
apiVersion: v1
kind: Service
metadata:
  name: webhook
  namespace: placeholder
spec:
  ports: [{port: 443}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: validate
webhooks:
- name: v.example.com
  clientConfig:
    service:
      name: webhook
      namespace: placeholder
      path: /validate
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: mutate
webhooks:
- name: m.example.com
  clientConfig:
    service:
      name: webhook
      namespace: placeholder
""")}
CASES["patches-options-allow-kind-change"] = {"kustomization.yaml": d("""
resources:
- deploy.yaml
patches:
- options:
    allowKindChange: true
    allowNameChange: true
  patch: |-
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: web-sts
  target:
    kind: Deployment
    name: web
"""), "deploy.yaml": DEPLOY}
CASES["diamond-two-prefixed-copies-of-a-base"] = {
    "base/kustomization.yaml": "resources: [deploy.yaml, cm.yaml]\n", "base/deploy.yaml": DEPLOY, "base/cm.yaml": CONFIGMAP,
    "left/kustomization.yaml": "namePrefix: left-\nresources: [../base]\n",
    "right/kustomization.yaml": "namePrefix: right-\nresources: [../base]\npatches:\n- path: p.yaml\n",
    "right/p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    "top/kustomization.yaml": "resources: [../left, ../right]\ncommonLabels: {top: yes-it-is}\n", "entry": "top"}
CASES["transformers-from-a-directory"] = {"kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- shared\n", "cm.yaml": CONFIGMAP,
    "shared/kustomization.yaml": "resources:\n- prefix.yaml\n- labels.yaml\n",
    "shared/prefix.yaml": "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata:\n  name: pre\nprefix: shared-\nfieldSpecs:\n- path: metadata/name\n",
    "shared/labels.yaml": "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: lab\nlabels:\n  shared: \"true\"\nfieldSpecs:\n- path: metadata/labels\n  create: true\n"}
CASES["crds-field-with-custom-resource"] = {"kustomization.yaml": "namePrefix: p-\ncrds:\n- crd.yaml\nresources:\n- cr.yaml\n", "crd.yaml": d("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
"""), "cr.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n",
    "expected-error.txt": "unable to parse open API definition from 'crd.yaml'"}
CASES["vars-from-patched-ingress-hosts"] = {"kustomization.yaml": d("""
resources:
- app.yaml
patches:
- target: {group: networking.k8s.io, version: v1, kind: Ingress, name: api}
  patch: |-
    - op: replace
      path: /spec/rules/0/host
      value: api.prod.example.com
vars:
- name: API_HOST
  objref: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: api}
  fieldref: {fieldpath: "spec.rules[0].host"}
"""), "app.yaml": d("""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api
spec:
  rules:
  - host: api.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: web
        env:
        - name: REDIRECT
          value: "https://$(API_HOST)/callback"
""")}
CASES["crds-openapi-definitions-read"] = {"kustomization.yaml": "namePrefix: p-\ncrds:\n- definitions.json\nresources:\n- cr.yaml\n",
    "definitions.json": '{\n  "example.com/v1.Widget": {\n    "Schema": {\n      "description": "a widget",\n      "properties": {"spec": {"properties": {"size": {"type": "integer"}}}}\n    }\n  }\n}\n',
    "cr.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n"}
SCHEMA = CASES["openapi-custom-schema-merge-keys"]["schema.json"]
CASES["openapi-schema-from-base-applies-in-overlay"] = {
    "base/kustomization.yaml": "resources:\n- crd.yaml\nopenapi:\n  path: schema.json\n",
    "base/crd.yaml": CASES["openapi-custom-schema-merge-keys"]["crd.yaml"], "base/schema.json": SCHEMA,
    "overlay/kustomization.yaml": "resources:\n- ../base\nnamePrefix: o-\npatches:\n- path: steps.yaml\n",
    "overlay/steps.yaml": "apiVersion: example.com/v1alpha1\nkind: Pipeline\nmetadata:\n  name: build\nspec:\n  steps:\n  - name: test\n    image: rust:3\n  - name: lint\n    image: clippy\n",
    "entry": "overlay"}
CASES["openapi-schema-yaml-and-builtin-kinds"] = {"kustomization.yaml": d("""
resources:
- crd.yaml
- deploy.yaml
openapi:
  path: schema.yaml
patches:
- path: p.yaml
"""), "crd.yaml": CASES["openapi-custom-schema-merge-keys"]["crd.yaml"], "deploy.yaml": DEPLOY,
    "schema.yaml": d("""
definitions:
  v1alpha1.Pipeline:
    type: object
    properties:
      spec:
        type: object
        properties:
          steps:
            type: array
            items:
              $ref: '#/definitions/v1alpha1.Step'
            x-kubernetes-patch-merge-key: name
            x-kubernetes-patch-strategy: merge
    x-kubernetes-group-version-kind:
    - group: example.com
      kind: Pipeline
      version: v1alpha1
  v1alpha1.Step:
    type: object
    properties:
      args:
        type: array
        x-kubernetes-patch-strategy: merge
"""), "p.yaml": "apiVersion: example.com/v1alpha1\nkind: Pipeline\nmetadata:\n  name: build\nspec:\n  steps:\n  - name: compile\n    args: [--release]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:2\n"}
CASES["openapi-remote-schema-error"] = {"kustomization.yaml": "resources: []\nopenapi:\n  path: https://example.com/schema.json\n", "expected-error.txt": "https://example.com/schema.json"}

# --- name references: edge cases from kustomize's suite -------------------
CASES["nameref-empty-field-value"] = {"kustomization.yaml": d("""
configMapGenerator:
- name: settings
  literals:
  - secret_name=
configurations:
- nameref.yaml
"""), "nameref.yaml": "nameReference:\n- kind: Secret\n  version: v1\n  fieldSpecs:\n  - path: data/secret_name\n    kind: ConfigMap\n"}
CASES["nameref-clusterrole-resource-names-follow-generated-name"] = {"kustomization.yaml": d("""
resources:
- role.yaml
configMapGenerator:
- name: leader-lock
  namespace: kube-system
  literals:
  - REGION=eu
"""), "role.yaml": d("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: controller
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [leader-lock]
  verbs: [get, update]
""")}
CASES["nameref-self-references-in-annotations"] = {"kustomization.yaml": d("""
namespace: new-ns
nameSuffix: -v2
resources:
- r.yaml
configurations:
- nameref.yaml
"""), "nameref.yaml": d("""
nameReference:
- kind: Namespace
  fieldSpecs:
  - {path: data/theNamespace, kind: ConfigMap, version: v1}
  - {path: metadata/annotations/theNamespace, kind: ConfigMap, version: v1}
  - {path: metadata/annotations/theNamespace, kind: Namespace, version: v1}
- kind: ConfigMap
  fieldSpecs:
  - {path: data/theConfigMap, kind: ConfigMap, version: v1}
  - {path: metadata/annotations/theConfigMap, kind: ConfigMap, version: v1}
  - {path: metadata/annotations/theConfigMap, kind: Namespace, version: v1}
"""), "r.yaml": d("""
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: old-ns
  annotations:
    theConfigMap: cm
    theNamespace: old-ns
data:
  theConfigMap: cm
  theNamespace: old-ns
---
apiVersion: v1
kind: Namespace
metadata:
  name: old-ns
  annotations:
    theConfigMap: cm
    theNamespace: old-ns
""")}
CASES["sortoptions-missing-order-error"] = {"kustomization.yaml": "resources: [cm.yaml]\nsortOptions:\n  legacySortOptions: {}\n", "cm.yaml": CONFIGMAP,
    "expected-error.txt": "the field 'sortOptions.order' must be one of [fifo, legacy]"}
CASES["sortoptions-legacy-options-with-fifo-error"] = {"kustomization.yaml": "resources: [cm.yaml]\nsortOptions:\n  order: fifo\n  legacySortOptions: {}\n", "cm.yaml": CONFIGMAP,
    "expected-error.txt": "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'"}
CASES["smp-cronjob-job-template-containers"] = {"kustomization.yaml": "resources: [cron.yaml]\npatches:\n- path: p.yaml\n", "cron.yaml": d("""
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: job
            image: busybox
            args: [run]
          - name: sidecar
            image: proxy
"""), "p.yaml": "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: job\n            image: busybox:2\n"}
CASES["directories-that-are-prefixes-of-each-other"] = {"base/kustomization.yaml": "resources: [svc.yaml]\n", "base/svc.yaml": SERVICE,
    "overlays/aws/kustomization.yaml": "resources:\n- ../../base\n",
    "overlays/aws-nonprod/kustomization.yaml": "resources:\n- ../aws\n",
    "overlays/aws-sandbox2.us-east-1/kustomization.yaml": "resources:\n- ../aws-nonprod\nnamePrefix: sb-\n",
    "entry": "overlays/aws-sandbox2.us-east-1"}
CASES["patch-by-original-name-after-base-suffix"] = {
    "base/kustomization.yaml": "nameSuffix: -test-api\nresources:\n- deploy.yaml\n",
    "base/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: example\nspec:\n  template:\n    spec:\n      containers:\n      - name: example\n        image: example:1.0\n        volumeMounts:\n        - {name: conf, mountPath: /etc/config}\n      volumes:\n      - name: conf\n        configMap: {name: conf}\n",
    "overlay/kustomization.yaml": "resources:\n- ../base\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: example\n    spec:\n      template:\n        spec:\n          containers:\n          - name: example\n            image: example:2.0\n",
    "entry": "overlay"}
CASES["crds-object-refs-follow-renames"] = {"kustomization.yaml": d("""
crds:
- definitions.json
resources:
- r.yaml
namePrefix: p-
commonLabels: {team: a}
commonAnnotations: {note: text}
configMapGenerator:
- name: settings
  literals: [A=1]
"""), "r.yaml": d("""
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  token: dG9rZW4=
---
apiVersion: apps.example.com/v1
kind: Pipeline
metadata:
  name: build
spec:
  credentials:
    secret: creds
  settingsRef:
    name: settings
  podSelector: {}
  podAnnotations: {}
"""), "definitions.json": d("""
{
  "example.com/pipelines/v1.Pipeline": {
    "Schema": {
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "example.com/pipelines/v1.PipelineSpec"}
      }
    },
    "Dependencies": ["example.com/pipelines/v1.PipelineSpec"]
  },
  "example.com/pipelines/v1.PipelineSpec": {
    "Schema": {
      "properties": {
        "credentials": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "Secret",
          "x-kubernetes-object-ref-name-key": "secret",
          "type": "object"
        },
        "settingsRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "ConfigMap",
          "type": "object"
        },
        "podSelector": {"x-kubernetes-label-selector": "", "type": "object"},
        "podAnnotations": {"x-kubernetes-annotation": "", "type": "object"}
      }
    },
    "Dependencies": []
  }
}
""")}
CASES["configurations-labels-key-is-for-labels-entries"] = {"kustomization.yaml": d("""
resources:
- r.yaml
configurations:
- config.yaml
commonLabels:
  common: c
labels:
- pairs:
    plain: p
"""), "config.yaml": "labels:\n- kind: Fleet\n  path: spec/podLabels\n  create: true\n", "r.yaml": "apiVersion: fleet.example.com/v1\nkind: Fleet\nmetadata:\n  name: f\nspec:\n  size: 2\n"}
