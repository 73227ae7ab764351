"""Strategic merge patches, JSON 6902 patches, targets and options."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

BASE = {"base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
        "base/deployment.yaml": DEPLOY, "base/service.yaml": SERVICE, "base/configmap.yaml": CONFIGMAP}

def ov(k, extra=None):
    files = dict(BASE)
    files["overlay/kustomization.yaml"] = d(k)
    files["entry"] = "overlay"
    for p, t in (extra or {}).items():
        files["overlay/" + p] = d(t)
    return files

SMP_HDR = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
CASES = {}
CASES["smp-file-replicas"] = ov("resources: [../base]\npatchesStrategicMerge:\n- replicas.yaml\n", {"replicas.yaml": SMP_HDR + "spec:\n  replicas: 4\n"})
CASES["smp-inline-string"] = ov("resources: [../base]\npatchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n  spec:\n    replicas: 2\n")
CASES["smp-container-merge-by-name"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.26
        resources:
          limits: {memory: 256Mi}
"""})
CASES["smp-add-sidecar-container"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    spec:
      containers:
      - name: proxy
        image: envoy:1.30
"""})
CASES["smp-patch-only-second-container"] = {"kustomization.yaml": "resources: [d.yaml]\npatches:\n- path: p.yaml\n", "d.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
      - {name: a, image: a}
      - {name: b, image: b}
      - {name: c, image: c}
"""), "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: b, image: b2}\n"}
CASES["smp-env-merge-by-name"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    spec:
      containers:
      - name: web
        env:
        - name: MODE
          value: prod
        - name: EXTRA
          value: "1"
"""})
CASES["smp-ports-and-volume-mounts"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    spec:
      containers:
      - name: web
        ports:
        - containerPort: 80
          name: http
        - containerPort: 9090
          name: metrics
        volumeMounts:
        - mountPath: /etc/web
          readOnly: true
      volumes:
      - name: cache
        emptyDir: {}
"""})
CASES["smp-delete-container-directive"] = {"kustomization.yaml": "resources: [d.yaml]\npatches:\n- path: p.yaml\n", "d.yaml": CASES["smp-patch-only-second-container"]["d.yaml"], "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: b\n        $patch: delete\n"}
CASES["smp-replace-map-directive"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    metadata:
      labels:
        $patch: replace
        app: web
        replaced: "yes"
"""})
CASES["smp-replace-list-directive"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + """
spec:
  template:
    spec:
      containers:
      - $patch: replace
      - name: only
        image: busybox
"""})
CASES["smp-delete-whole-resource"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n$patch: delete\n"})
CASES["smp-null-removes-field"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": SMP_HDR + "spec:\n  replicas: null\n  template:\n    spec:\n      volumes: null\n"})
CASES["smp-tolerations-replaced"] = {"kustomization.yaml": "resources: [d.yaml]\npatches:\n- path: p.yaml\n", "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      tolerations: [{key: a, operator: Exists}]\n      containers: [{name: c, image: i, args: [--a, --b]}]\n", "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      tolerations: [{key: b, operator: Exists}]\n      containers: [{name: c, args: [--c]}]\n"}
CASES["smp-custom-resource-list-replaced"] = {"kustomization.yaml": "resources: [r.yaml]\npatches:\n- path: p.yaml\n", "r.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  items: [{name: a, v: 1}, {name: b, v: 1}]\n  nested: {keep: 1, change: 1}\n", "p.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  items: [{name: b, v: 2}]\n  nested: {change: 2}\n"}
CASES["smp-service-ports-by-port"] = ov("resources: [../base]\npatches:\n- path: p.yaml\n", {"p.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n  - port: 443\n    targetPort: 8443\n"})
CASES["smp-multi-doc-file"] = ov("resources: [../base]\npatchesStrategicMerge:\n- p.yaml\n", {"p.yaml": SMP_HDR + "spec:\n  replicas: 3\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata:\n  LOG_LEVEL: debug\n  NEW: x\n"})
CASES["smp-no-match-error"] = ov("resources: [../base]\npatchesStrategicMerge:\n- p.yaml\n", {"p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nope}\nspec: {replicas: 1}\n"})
CASES["smp-no-match-error"]["expected-error.txt"] = "failed to find unique target for patch"
CASES["smp-after-prefix-in-base"] = {**BASE, "base/kustomization.yaml": "namePrefix: b-\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
    "overlay/kustomization.yaml": "resources: [../base]\npatches:\n- path: p.yaml\n", "overlay/p.yaml": SMP_HDR + "spec:\n  replicas: 7\n", "entry": "overlay"}
CASES["smp-finalizers-merge"] = {"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: p.yaml\n", "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  finalizers: [a.io/x]\n", "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  finalizers: [b.io/y]\n"}
CASES["smp-retainkeys-literal"] = {"kustomization.yaml": "resources: [d.yaml]\npatches:\n- path: p.yaml\n", "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1}\n", "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  strategy:\n    $retainKeys: [type]\n    type: Recreate\n"}

# patches with targets
CASES["patches-target-kind"] = ov("resources: [../base]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: ignored\n    spec:\n      revisionHistoryLimit: 2\n")
CASES["patches-target-name-regex"] = {"kustomization.yaml": d("""
resources: [cms.yaml]
patches:
- target:
    kind: ConfigMap
    name: "app-.*"
  patch: |-
    - op: add
      path: /data/patched
      value: "true"
"""), "cms.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-a}\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-b}\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-app-c}\ndata: {}\n"}
CASES["patches-target-label-selector"] = {"kustomization.yaml": d("""
resources: [cms.yaml]
patches:
- target:
    labelSelector: "tier=db,env in (prod,stage)"
  patch: |-
    - op: replace
      path: /metadata/name
      value: renamed
"""), "cms.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {tier: db, env: prod}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, labels: {tier: web, env: prod}}\n"}
CASES["patches-target-annotation-selector"] = {"kustomization.yaml": d("""
resources: [cms.yaml]
patches:
- target:
    annotationSelector: "patch-me"
  patch: |-
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: any
    data:
      added: by-smp
"""), "cms.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {patch-me: 'yes'}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"}
CASES["patches-target-group-version"] = {"kustomization.yaml": d("""
resources: [r.yaml]
patches:
- target:
    group: apps
    version: v1
    kind: Deployment
    namespace: team-.*
  patch: |-
    - op: add
      path: /spec/paused
      value: true
"""), "r.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: team-a}\nspec: {}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: other}\nspec: {}\n"}
CASES["patches-json6902-inline-ops"] = ov("resources: [../base]\npatches:\n- target: {kind: Deployment, name: web}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n    - op: add\n      path: /spec/template/spec/containers/0/args\n      value: [--verbose]\n    - op: remove\n      path: /spec/template/spec/volumes/0\n    - op: add\n      path: /metadata/annotations\n      value: {a.io/b: c}\n")
CASES["patches-json6902-file-json"] = ov("resources: [../base]\npatches:\n- target: {kind: Service, name: web}\n  path: ops.json\n", {"ops.json": '[{"op": "add", "path": "/spec/ports/-", "value": {"port": 443, "name": "https"}}, {"op": "copy", "from": "/spec/selector/app", "path": "/metadata/labels"}]\n'})
CASES["patches-json6902-legacy-field"] = ov("resources: [../base]\npatchesJson6902:\n- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: web\n  path: ops.yaml\n", {"ops.yaml": "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: nginx:mainline\n- op: test\n  path: /spec/replicas\n  value: 1\n"})
CASES["patches-json6902-escaped-pointer"] = ov("resources: [../base]\ncommonAnnotations: {example.com/owner: a}\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    - op: replace\n      path: /metadata/annotations/example.com~1owner\n      value: b\n")
CASES["patches-json6902-replace-missing-key-sets"] = ov("resources: [../base]\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    - op: replace\n      path: /data/nope\n      value: b\n    - op: add\n      path: /metadata/annotations/deep\n      value: created\n")
CASES["patches-json6902-remove-missing-error"] = ov("resources: [../base]\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    - op: remove\n      path: /data/nope\n")
CASES["patches-json6902-remove-missing-error"]["expected-error.txt"] = "Unable to remove nonexistent key: nope"
CASES["patches-target-matches-nothing"] = ov("resources: [../base]\npatches:\n- target: {kind: StatefulSet}\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 3\n")
CASES["patches-smp-no-target-by-name"] = ov("resources: [../base]\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: web-config\n    data:\n      LOG_LEVEL: warn\n")
CASES["patches-options-allow-name-change"] = ov("resources: [../base]\npatches:\n- target: {kind: ConfigMap}\n  options: {allowNameChange: true}\n  patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: new-name\n")
CASES["patches-name-change-refused"] = ov("resources: [../base]\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: new-name\n    data: {x: y}\n")
CASES["patches-multiple-in-order"] = ov("resources: [../base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 2\n- target: {kind: Deployment}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 6\n")
CASES["patches-all-resources-no-kind"] = ov("resources: [../base]\npatches:\n- target: {name: web.*}\n  patch: |-\n    - op: add\n      path: /metadata/labels\n      value: {patched: all}\n")
CASES["patches-json-without-target-error"] = ov("resources: [../base]\npatches:\n- patch: |-\n    - op: add\n      path: /x\n      value: 1\n")
CASES["patches-json-without-target-error"]["expected-error.txt"] = "must specify a target for JSON patch"
CASES["patches-smp-delete-with-target"] = ov("resources: [../base]\npatches:\n- target: {kind: Service}\n  patch: |-\n    $patch: delete\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: any\n")
CASES["patches-before-namespace-and-prefix"] = ov("resources: [../base]\nnamespace: prod\nnamePrefix: p-\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      replicas: 9\n")
CASES["patches-overlay-uses-prefixed-name"] = {**BASE, "base/kustomization.yaml": "namePrefix: b-\nnamespace: ns1\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
    "overlay/kustomization.yaml": "resources: [../base]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: b-web\n      namespace: ns1\n    spec:\n      replicas: 8\n", "entry": "overlay"}
