"""Composition, namespace, labels, annotations, images, replicas, order."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

BASE = {"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
        "base/deployment.yaml": DEPLOY, "base/service.yaml": SERVICE, "base/configmap.yaml": CONFIGMAP}

def overlay(k, extra=None, entry="overlay"):
    files = dict(BASE)
    files[f"{entry}/kustomization.yaml"] = d(k)
    files["entry"] = entry
    files.update(extra or {})
    return files

CASES = {}
CASES["resources-single-file"] = {"kustomization.yaml": "resources:\n- cm.yaml\n", "cm.yaml": CONFIGMAP}
CASES["resources-multi-doc"] = {"kustomization.yaml": "resources:\n- all.yaml\n", "all.yaml": DEPLOY + "---\n" + SERVICE + "---\n# comment only\n---\n" + CONFIGMAP}
CASES["resources-directory-base"] = overlay("resources:\n- ../base\n")
CASES["resources-bases-legacy"] = overlay("bases:\n- ../base\n")
CASES["resources-yml-name"] = {"kustomization.yml": "resources:\n- cm.yaml\n", "cm.yaml": CONFIGMAP}
CASES["resources-Kustomization-name"] = {"Kustomization": "resources:\n- cm.yaml\n", "cm.yaml": CONFIGMAP}
CASES["resources-list-kind"] = {"kustomization.yaml": "resources:\n- list.yaml\n", "list.yaml": d("""
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: Secret
  metadata: {name: b}
""")}
CASES["resources-nested-three-levels"] = {
    "a/kustomization.yaml": "resources:\n- ../b\n- a.yaml\n", "a/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    "b/kustomization.yaml": "resources:\n- ../c\n- b.yaml\nnamePrefix: b-\n", "b/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    "c/kustomization.yaml": "resources:\n- c.yaml\nnamespace: c-ns\n", "c/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "entry": "a"}
CASES["resources-apiversion-kind-explicit"] = {"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n", "cm.yaml": CONFIGMAP}
CASES["resources-two-bases"] = {
    "app1/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: one-\n", "app1/cm.yaml": CONFIGMAP,
    "app2/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: two-\n", "app2/cm.yaml": CONFIGMAP,
    "all/kustomization.yaml": "resources:\n- ../app1\n- ../app2\n", "entry": "all"}
CASES["resources-duplicate-id-error"] = {"kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n", "a.yaml": CONFIGMAP, "b.yaml": CONFIGMAP, "expected-error.txt": "may not add resource with an already registered id"}
CASES["resources-missing-file-error"] = {"kustomization.yaml": "resources:\n- missing.yaml\n", "expected-error.txt": "missing.yaml: no such file or directory"}
CASES["resources-missing-kustomization-error"] = {"kustomization.yaml": "resources:\n- ./sub\n", "sub/readme.md": "nothing", "expected-error.txt": "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization'"}
CASES["resources-cycle-error"] = {"a/kustomization.yaml": "resources:\n- ../b\n", "b/kustomization.yaml": "resources:\n- ../a\n", "entry": "a", "expected-error.txt": "cycle detected"}
CASES["resources-unknown-field-error"] = {"kustomization.yaml": "resources:\n- cm.yaml\nresourcez:\n- x\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "invalid Kustomization: json: unknown field"}
CASES["resources-case-insensitive-fields"] = {"kustomization.yaml": "Resources:\n- cm.yaml\nNAMEPREFIX: up-\ncommonlabels:\n  team: a\n", "cm.yaml": CONFIGMAP}
CASES["resources-load-restrictor-error"] = {"app/kustomization.yaml": "resources:\n- ../shared/cm.yaml\n", "shared/cm.yaml": CONFIGMAP, "entry": "app", "expected-error.txt": "is not in or below"}
CASES["resources-load-restrictor-none"] = {"app/kustomization.yaml": "resources:\n- ../shared/cm.yaml\n", "shared/cm.yaml": CONFIGMAP, "entry": "app", "params": "load-restrictor=LoadRestrictionsNone\n"}
CASES["resources-component-as-resource-error"] = {"kustomization.yaml": "resources:\n- comp\n", "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels: {a: b}\n", "expected-error.txt": "expected kind != 'Component' for path"}
CASES["resources-remote-error"] = {"kustomization.yaml": "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.5.0\n", "expected-error.txt": "github.com/kubernetes-sigs/kustomize"}
CASES["resources-helm-error"] = {"kustomization.yaml": "helmCharts:\n- name: nginx\n  repo: https://charts.example\n  version: 1.0.0\n", "expected-error.txt": "HelmChartInflationGenerator"}

# namespace
CASES["namespace-basic"] = overlay("namespace: prod\nresources:\n- ../base\n")
CASES["namespace-overrides-existing"] = {"kustomization.yaml": "namespace: prod\nresources: [cm.yaml]\n", "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: dev}\n"}
CASES["namespace-cluster-scoped-untouched"] = {"kustomization.yaml": "namespace: prod\nresources: [r.yaml]\n", "r.yaml": d("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec: {capacity: {storage: 1Gi}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: x
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: foos.x.io}
spec: {group: x.io, names: {kind: Foo, plural: foos}, scope: Namespaced, versions: []}
""")}
CASES["namespace-renames-namespace-object"] = {"kustomization.yaml": "namespace: prod\nresources: [r.yaml]\n", "r.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: placeholder}\n---\n" + CONFIGMAP}
CASES["namespace-custom-resource"] = {"kustomization.yaml": "namespace: prod\nresources: [r.yaml]\n", "r.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"}
CASES["namespace-rolebinding-subjects"] = {"kustomization.yaml": "namespace: prod\nresources: [r.yaml]\n", "r.yaml": d("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: default}
- {kind: ServiceAccount, name: other, namespace: elsewhere}
- {kind: User, name: jane}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: ServiceAccount, name: default, namespace: default}
""")}
CASES["namespace-nested-overlay-wins"] = {**BASE, "base/kustomization.yaml": "namespace: base-ns\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n", "overlay/kustomization.yaml": "namespace: overlay-ns\nresources:\n- ../base\n", "entry": "overlay"}

# labels and annotations
CASES["commonlabels-basic"] = overlay("commonLabels:\n  team: payments\n  env: prod\nresources:\n- ../base\n")
CASES["commonlabels-bool-value-error"] = {"kustomization.yaml": "commonLabels:\n  enabled: true\nresources: [cm.yaml]\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "cannot unmarshal bool"}
CASES["commonlabels-quoted-values"] = {"kustomization.yaml": "commonLabels:\n  enabled: 'true'\n  version: \"2\"\nresources: [cm.yaml]\n", "cm.yaml": CONFIGMAP}
CASES["commonlabels-service-without-selector"] = {"kustomization.yaml": "commonLabels: {app: x}\nresources: [svc.yaml]\n", "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: headless}\nspec:\n  clusterIP: None\n  ports: [{port: 80}]\n"}
CASES["commonlabels-workloads"] = {"kustomization.yaml": "commonLabels: {tier: backend}\nresources: [w.yaml]\n", "w.yaml": d("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: OnFailure, containers: [{name: b, image: busybox}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: agent:1}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: m, image: migrate:1}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb}
spec: {minAvailable: 1, selector: {matchLabels: {app: db}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
""")}
CASES["labels-without-selectors"] = overlay("labels:\n- pairs:\n    owner: alice\nresources:\n- ../base\n")
CASES["labels-include-selectors"] = overlay("labels:\n- pairs:\n    owner: alice\n  includeSelectors: true\nresources:\n- ../base\n")
CASES["labels-include-templates"] = overlay("labels:\n- pairs:\n    owner: alice\n  includeTemplates: true\nresources:\n- ../base\n")
CASES["labels-multiple-entries"] = overlay("labels:\n- pairs: {a: '1'}\n- pairs: {b: '2'}\n  includeSelectors: true\nresources:\n- ../base\n")
CASES["labels-custom-fields"] = {"kustomization.yaml": d("""
labels:
- pairs: {team: x}
  fields:
  - path: spec/labels
    kind: Widget
    create: true
resources: [w.yaml]
"""), "w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"}
CASES["annotations-basic"] = overlay("commonAnnotations:\n  note: hello\n  oncall: '555'\nresources:\n- ../base\n")
CASES["annotations-workload-templates"] = {"kustomization.yaml": "commonAnnotations: {a: b}\nresources: [w.yaml]\n", "w.yaml": CASES["commonlabels-workloads"]["w.yaml"]}
CASES["annotations-and-labels-overlay-of-overlay"] = {**BASE,
    "mid/kustomization.yaml": "resources: [../base]\ncommonLabels: {layer: mid}\ncommonAnnotations: {mid: 'yes'}\n",
    "top/kustomization.yaml": "resources: [../mid]\ncommonLabels: {layer: top}\ncommonAnnotations: {top: 'yes'}\n", "entry": "top"}

# images
CASES["images-new-tag"] = overlay("images:\n- name: nginx\n  newTag: '1.27'\nresources:\n- ../base\n")
CASES["images-new-name-and-tag"] = overlay("images:\n- name: nginx\n  newName: registry.example.com/nginx\n  newTag: 1.27-alpine\nresources:\n- ../base\n")
CASES["images-digest"] = overlay("images:\n- name: nginx\n  digest: sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3\nresources:\n- ../base\n")
CASES["images-init-containers-and-cronjob"] = {"kustomization.yaml": "images:\n- name: busybox\n  newTag: '1.36'\n- name: app\n  newName: ghcr.io/acme/app\nresources: [w.yaml]\n", "w.yaml": d("""
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          initContainers: [{name: init, image: busybox}]
          containers: [{name: app, image: app:2.0}]
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: i, image: "busybox:1.0@sha256:abc"}]
  containers: [{name: c, image: app}]
""")}
CASES["images-registry-with-port"] = {"kustomization.yaml": "images:\n- name: localhost:5000/team/app\n  newTag: v2\nresources: [p.yaml]\n", "p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: 'localhost:5000/team/app:v1'}\n  - {name: b, image: 'localhost:5000/team/app-other:v1'}\n"}
CASES["images-custom-resource-containers"] = {"kustomization.yaml": "images:\n- name: worker\n  newTag: v9\nresources: [r.yaml]\n", "r.yaml": "apiVersion: example.com/v1\nkind: Runner\nmetadata: {name: r}\nspec:\n  pod:\n    containers:\n    - {name: w, image: worker:v1}\n"}
CASES["images-tag-and-digest"] = overlay("images:\n- name: nginx\n  newTag: '1.27'\n  digest: sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3\nresources:\n- ../base\n")

# replicas
CASES["replicas-basic"] = overlay("replicas:\n- name: web\n  count: 5\nresources:\n- ../base\n")
CASES["replicas-statefulset-created"] = {"kustomization.yaml": "replicas:\n- name: db\n  count: 3\nresources: [s.yaml]\n", "s.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: pg}]}\n"}
CASES["replicas-after-prefix"] = overlay("namePrefix: prod-\nreplicas:\n- name: web\n  count: 2\nresources:\n- ../base\n")

# order
MIXED = d("""
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc}
webhooks: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: 1}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: z, namespace: beta}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: m, namespace: alpha}
---
apiVersion: v1
kind: Namespace
metadata: {name: alpha}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: extensions.example/v1
kind: Deployment
metadata: {name: odd}
""")
CASES["order-legacy"] = {"kustomization.yaml": "resources: [r.yaml]\n", "r.yaml": MIXED}
CASES["order-reorder-none"] = {"kustomization.yaml": "resources: [r.yaml]\n", "r.yaml": MIXED, "params": "reorder=none\n"}
CASES["order-sortoptions-fifo"] = {"kustomization.yaml": "sortOptions:\n  order: fifo\nresources: [r.yaml]\n", "r.yaml": MIXED}
CASES["order-sortoptions-legacy-custom"] = {"kustomization.yaml": "sortOptions:\n  order: legacy\n  legacySortOptions:\n    orderFirst: [Ingress, Widget]\n    orderLast: [Namespace]\nresources: [r.yaml]\n", "r.yaml": MIXED}
CASES["order-multiple-files-fifo"] = {"kustomization.yaml": "resources: [b.yaml, a.yaml]\n", "a.yaml": SERVICE, "b.yaml": DEPLOY, "params": "reorder=none\n"}
