"""Real GitOps shapes and combinations: environment overlays, overlays of
overlays, cross-base references, CRs, and more error reporting."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

CASES = {}
APP = {"apps/web/base/kustomization.yaml": d("""
resources:
- deployment.yaml
- service.yaml
- hpa.yaml
- pdb.yaml
- ingress.yaml
configMapGenerator:
- name: web-config
  literals: [LOG_LEVEL=info]
"""), "apps/web/base/deployment.yaml": DEPLOY, "apps/web/base/service.yaml": SERVICE,
"apps/web/base/hpa.yaml": d("""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""), "apps/web/base/pdb.yaml": "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {app: web}}\n",
"apps/web/base/ingress.yaml": d("""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
""")}
def env(name, k, extra=None):
    files = dict(APP)
    files[f"apps/web/overlays/{name}/kustomization.yaml"] = d(k)
    for p, t in (extra or {}).items():
        files[f"apps/web/overlays/{name}/{p}"] = d(t)
    files["entry"] = f"apps/web/overlays/{name}"
    return files

CASES["gitops-staging-overlay"] = env("staging", """
namespace: web-staging
namePrefix: stg-
commonLabels: {env: staging}
resources: [../../base]
configMapGenerator:
- name: web-config
  behavior: merge
  literals: [LOG_LEVEL=debug]
images:
- name: nginx
  newTag: 1.27-rc
""")
CASES["gitops-production-overlay"] = env("production", """
namespace: web-prod
commonLabels: {env: production}
commonAnnotations: {oncall: sre}
resources: [../../base]
replicas:
- name: web
  count: 6
patches:
- path: resources.yaml
- target: {kind: Ingress, name: web}
  patch: |-
    - op: replace
      path: /spec/rules/0/host
      value: www.example.com
    - op: add
      path: /spec/tls
      value: [{hosts: [www.example.com], secretName: web-tls}]
secretGenerator:
- name: web-tls
  type: kubernetes.io/tls
  literals: [tls.crt=CERT, tls.key=KEY]
""", {"resources.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: web
        resources:
          requests: {cpu: 500m, memory: 512Mi}
          limits: {memory: 1Gi}
"""})
CASES["gitops-overlay-of-overlay-region"] = dict(CASES["gitops-production-overlay"])
CASES["gitops-overlay-of-overlay-region"].update({"apps/web/overlays/production-eu/kustomization.yaml": d("""
resources: [../production]
nameSuffix: -eu
commonLabels: {region: eu}
patches:
- target: {kind: Deployment}
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: x}
    spec:
      template:
        spec:
          nodeSelector: {topology.kubernetes.io/region: eu-west-1}
"""), "entry": "apps/web/overlays/production-eu"})
CASES["gitops-cluster-aggregate"] = dict(APP)
CASES["gitops-cluster-aggregate"].update({
    "apps/api/kustomization.yaml": "namespace: api\nresources: [deploy.yaml]\nconfigMapGenerator:\n- name: api-env\n  literals: [PORT=8080]\n",
    "apps/api/deploy.yaml": DEPLOY.replace("web", "api"),
    "infra/namespaces.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: api}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    "clusters/prod/kustomization.yaml": "resources:\n- ../../infra/namespaces.yaml\n- ../../apps/web/base\n- ../../apps/api\n",
    "entry": "clusters/prod", "params": "load-restrictor=LoadRestrictionsNone\n"})
CASES["gitops-cluster-aggregate-restricted-error"] = dict(CASES["gitops-cluster-aggregate"])
del CASES["gitops-cluster-aggregate-restricted-error"]["params"]
CASES["gitops-cluster-aggregate-restricted-error"]["expected-error.txt"] = "is not in or below"
CASES["gitops-argocd-applications"] = {"kustomization.yaml": "namespace: argocd\nresources: [apps.yaml]\ncommonLabels: {managed: gitops}\n", "apps.yaml": d("""
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web}
spec:
  project: default
  source: {repoURL: https://git.example/infra.git, targetRevision: main, path: apps/web}
  destination: {server: https://kubernetes.default.svc, namespace: web}
  syncPolicy: {automated: {prune: true, selfHeal: true}}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team}
spec:
  sourceRepos: ['*']
  destinations: [{namespace: '*', server: '*'}]
""")}
CASES["gitops-flux-helmrelease-patch"] = {"base/kustomization.yaml": "resources: [hr.yaml]\n", "base/hr.yaml": d("""
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 10m
  chart:
    spec:
      chart: podinfo
      version: "6.x"
      sourceRef: {kind: HelmRepository, name: podinfo}
  values:
    replicaCount: 1
    ingress: {enabled: false}
"""), "prod/kustomization.yaml": d("""
resources: [../base]
patches:
- patch: |-
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata: {name: podinfo, namespace: flux-system}
    spec:
      values:
        replicaCount: 3
        ingress: {enabled: true, hosts: [{host: podinfo.example}]}
"""), "entry": "prod"}
CASES["gitops-cert-manager-certificate"] = {"kustomization.yaml": "namespace: web\nnamePrefix: p-\nresources: [c.yaml]\n", "c.yaml": d("""
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
spec: {acme: {server: https://acme.example/directory, privateKeySecretRef: {name: le-key}}}
""")}
CASES["cross-base-namespace-aware-refs"] = {
    "a/kustomization.yaml": "namespace: a\nnamePrefix: a-\nresources: [cm.yaml, d.yaml]\n", "a/cm.yaml": CONFIGMAP, "a/d.yaml": DEPLOY,
    "b/kustomization.yaml": "namespace: b\nnamePrefix: b-\nresources: [cm.yaml, d.yaml]\n", "b/cm.yaml": CONFIGMAP, "b/d.yaml": DEPLOY,
    "all/kustomization.yaml": "resources: [../a, ../b]\n", "entry": "all"}
CASES["overlay-patch-references-base-generated"] = {"base/kustomization.yaml": "resources: [d.yaml]\nconfigMapGenerator:\n- name: extra-config\n  literals: [A=1]\n", "base/d.yaml": DEPLOY,
    "overlay/kustomization.yaml": d("""
    resources: [../base]
    namePrefix: o-
    patches:
    - patch: |-
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
              - name: web
                envFrom:
                - configMapRef: {name: extra-config}
    """), "entry": "overlay"}
CASES["generated-configmap-patched-before-hash"] = {"kustomization.yaml": d("""
configMapGenerator:
- name: cfg
  literals: [A=1]
patches:
- target: {kind: ConfigMap, name: cfg}
  patch: |-
    - op: add
      path: /data/B
      value: "2"
""")}
CASES["sa-image-pull-secret-generated"] = {"kustomization.yaml": "namePrefix: p-\nresources: [sa.yaml]\nsecretGenerator:\n- name: regcred\n  type: kubernetes.io/dockerconfigjson\n  literals:\n  - '.dockerconfigjson={\"auths\":{}}'\n", "sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder}\nimagePullSecrets: [{name: regcred}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  serviceAccountName: builder\n  imagePullSecrets: [{name: regcred}]\n  containers: [{name: c, image: i}]\n"}
CASES["pvc-suffix-reference"] = {"kustomization.yaml": "nameSuffix: -v1\nresources: [r.yaml]\n", "r.yaml": "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: i}]\n      volumes: [{name: v, persistentVolumeClaim: {claimName: data}}]\n"}
CASES["pv-and-claim-volume-name"] = {"kustomization.yaml": "namePrefix: p-\nresources: [r.yaml]\n", "r.yaml": "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp}}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec: {volumeName: pv, accessModes: [ReadWriteOnce]}\n"}
CASES["json6902-array-insert-and-move"] = {"kustomization.yaml": d("""
resources: [d.yaml]
patches:
- target: {kind: Deployment}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0
      value: {name: first, image: busybox}
    - op: move
      from: /spec/template/spec/containers/2
      path: /spec/template/spec/containers/1
    - op: copy
      from: /spec/template/spec/containers/0/image
      path: /spec/template/spec/containers/2/image
"""), "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: a}, {name: b, image: b}]\n"}
CASES["json6902-test-failure-error"] = {"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    - op: test\n      path: /data/LOG_LEVEL\n      value: debug\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "testing value /data/LOG_LEVEL failed"}
CASES["patch-target-namespace-after-transform"] = {"base/kustomization.yaml": "namespace: team-a\nresources: [cm.yaml]\n", "base/cm.yaml": CONFIGMAP,
    "overlay/kustomization.yaml": "resources: [../base]\npatches:\n- target: {kind: ConfigMap, namespace: team-a}\n  patch: |-\n    - op: add\n      path: /data/ns\n      value: matched\n", "entry": "overlay"}
CASES["kustomization-wrong-apiversion-error"] = {"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v2\nkind: Kustomization\nresources: [cm.yaml]\n", "cm.yaml": CONFIGMAP, "expected-error.txt": "apiVersion for Kustomization should be kustomize.config.k8s.io/v1beta1"}
CASES["kustomization-empty-error"] = {"kustomization.yaml": "# nothing\n", "expected-error.txt": "kustomization.yaml is empty"}
CASES["kustomization-as-resource-file-error"] = {"kustomization.yaml": "resources: [other.yaml]\n", "other.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n", "expected-error.txt": "missing metadata.name in object"}
CASES["resource-yaml-syntax-error"] = {"kustomization.yaml": "resources: [bad.yaml]\n", "bad.yaml": "apiVersion: v1\nkind: [ConfigMap\n", "expected-error.txt": "did not find expected ',' or ']'"}
CASES["order-same-kind-namespaces"] = {"kustomization.yaml": "resources: [r.yaml]\n", "r.yaml": "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}{ns}}}\n" for n, ns in [("b", ""), ("a", ", namespace: zeta"), ("c", ", namespace: default"), ("a", ""), ("z", ", namespace: alpha")])}
CASES["order-crd-before-cr-and-webhooks-last"] = {"kustomization.yaml": "resources: [r.yaml]\n", "r.yaml": d("""
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: m}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: v1
kind: LimitRange
metadata: {name: lr}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: rq}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep}
""")}
CASES["smp-init-container-and-volume-delete"] = {"kustomization.yaml": "resources: [d.yaml]\npatches:\n- path: p.yaml\n", "d.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox, command: [sh, -c, "true"]}]
      containers: [{name: c, image: i}]
      volumes: [{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]
"""), "p.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      initContainers:
      - name: init
        command: [sh, -c, "echo hi"]
      volumes:
      - name: a
        $patch: delete
      - name: c
        configMap: {name: x}
""")}
CASES["smp-new-nested-map-with-null"] = {"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: p.yaml\n", "cm.yaml": CONFIGMAP, "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  labels: {added: 'yes'}\n  annotations: {a: b}\ndata:\n  LOG_LEVEL: null\n  NEW: v\n"}
CASES["smp-pod-security-context-merge"] = {"kustomization.yaml": "resources: [p.yaml]\npatches:\n- path: patch.yaml\n", "p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsUser: 1000}\n  containers:\n  - name: c\n    image: i\n    securityContext: {readOnlyRootFilesystem: true}\n    ports: [{containerPort: 80, protocol: TCP}]\n", "patch.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: c\n    securityContext: {allowPrivilegeEscalation: false}\n    ports: [{containerPort: 81}]\n"}
CASES["labels-and-prefix-on-generated-secret-ref"] = {"kustomization.yaml": "namePrefix: x-\nlabels:\n- pairs: {app.kubernetes.io/part-of: shop}\n  includeSelectors: true\nresources: [d.yaml]\nsecretGenerator:\n- name: db\n  literals: [PASSWORD=p]\n", "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  selector: {matchLabels: {app: shop}}\n  template:\n    metadata: {labels: {app: shop}}\n    spec:\n      containers:\n      - name: c\n        image: shop\n        env: [{name: P, valueFrom: {secretKeyRef: {name: db, key: PASSWORD}}}]\n"}
CASES["images-multiple-rules-first-wins"] = {"kustomization.yaml": "images:\n- name: app\n  newTag: one\n- name: app\n  newTag: two\n- name: sidecar\n  newName: mirror/sidecar\nresources: [p.yaml]\n", "p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: app}, {name: s, image: 'sidecar:1'}]\n"}
CASES["namespace-and-generator-namespace"] = {"kustomization.yaml": "namespace: outer\nconfigMapGenerator:\n- name: own-ns\n  namespace: inner\n  literals: [A=1]\n"}
CASES["replicas-hpa-and-deployment-prefix"] = {"base/kustomization.yaml": "resources: [d.yaml, hpa.yaml]\n", "base/d.yaml": DEPLOY, "base/hpa.yaml": APP["apps/web/base/hpa.yaml"],
    "overlay/kustomization.yaml": "namePrefix: prod-\nresources: [../base]\nreplicas:\n- name: web\n  count: 4\n", "entry": "overlay"}
CASES["vars-in-annotations-and-args"] = {"kustomization.yaml": d("""
resources: [r.yaml]
vars:
- name: CM_NAME
  objref: {kind: ConfigMap, name: web-config, apiVersion: v1}
configMapGenerator:
- name: web-config
  literals: [A=1]
"""), "r.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {uses: $(CM_NAME)}\nspec:\n  containers:\n  - name: c\n    image: i\n    args: [--config=$(CM_NAME)]\n"}
CASES["replacements-into-generated-configmap-hash"] = {"kustomization.yaml": d("""
resources: [svc.yaml]
configMapGenerator:
- name: endpoints
  literals: [URL=placeholder]
replacements:
- source: {kind: Service, name: api}
  targets:
  - select: {kind: ConfigMap, name: endpoints}
    fieldPaths: [data.URL]
"""), "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {ports: [{port: 80}]}\n"}
CASES["yaml-nulls-empty-maps-and-aliases"] = {"kustomization.yaml": "namePrefix: x-\nresources: [d.yaml]\n", "d.yaml": d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  name: d
spec:
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
    spec:
      containers:
      - image: i
        name: c
        resources: {}
        env: &e
        - name: A
          value: "1"
      initContainers:
      - image: j
        name: k
        env: *e
status: {}
""")}
