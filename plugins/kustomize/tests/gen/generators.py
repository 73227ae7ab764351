"""configMapGenerator, secretGenerator, generatorOptions, behaviors, hashes."""
from common import d, DEPLOY, SERVICE, CONFIGMAP

CASES = {}
def k(text, **files):
    out = {"kustomization.yaml": d(text)}
    for name, body in files.items():
        out[name.replace("__", "/").replace("_DOT_", ".")] = body
    return out

CASES["gen-cm-literals"] = k("""
configMapGenerator:
- name: app
  literals:
  - LOG_LEVEL=debug
  - "GREETING=hello world"
  - QUOTED='single'
  - EMPTY=
  - EQ=a=b
""")
CASES["gen-cm-files"] = k("""
configMapGenerator:
- name: files
  files:
  - app.properties
  - custom-key.conf=nginx.conf
""", app_DOT_properties="a=1\nb=2\n", nginx_DOT_conf="server {\n  listen 80;\n}\n")
CASES["gen-cm-env-file"] = k("""
configMapGenerator:
- name: env
  envs:
  - app.env
""", app_DOT_env="# comment\nA=1\n\n  B=two words\nC=x=y\nD=\"quoted\"\n")
CASES["gen-cm-env-legacy-field"] = k("""
configMapGenerator:
- name: env
  env: app.env
""", app_DOT_env="A=1\n")
CASES["gen-cm-mixed-sources"] = k("""
configMapGenerator:
- name: mixed
  envs: [a.env]
  literals: [L=1]
  files: [f.txt]
""", a_DOT_env="E=1\n", f_DOT_txt="file body\n")
CASES["gen-cm-html-chars-hash"] = k("""
configMapGenerator:
- name: html
  literals:
  - "T=<b>&amp;</b>"
  - "U=caf\u00e9 \u2603"
""")
CASES["gen-cm-duplicate-key-error"] = k("""
configMapGenerator:
- name: dup
  literals: [A=1, A=2]
""")
CASES["gen-cm-duplicate-key-error"]["expected-error.txt"] = "repeats the key"
CASES["gen-cm-namespace"] = k("""
configMapGenerator:
- name: nsd
  namespace: other
  literals: [A=1]
""")
CASES["gen-cm-disable-hash-local"] = k("""
configMapGenerator:
- name: plain
  literals: [A=1]
  options:
    disableNameSuffixHash: true
    labels: {gen: local}
    annotations: {note: local}
""")
CASES["gen-options-global"] = k("""
generatorOptions:
  disableNameSuffixHash: true
  labels: {generated: "yes"}
  annotations: {who: kustomize}
configMapGenerator:
- name: g
  literals: [A=1]
  options:
    labels: {generated: "local-wins", extra: "1"}
secretGenerator:
- name: s
  literals: [P=secret]
""")
CASES["gen-options-immutable"] = k("""
generatorOptions:
  immutable: true
configMapGenerator:
- name: frozen
  literals: [A=1]
""")
CASES["gen-secret-literals"] = k("""
secretGenerator:
- name: creds
  literals:
  - username=admin
  - password=s3cr3t!
""")
CASES["gen-secret-tls-type"] = k("""
secretGenerator:
- name: tls
  type: kubernetes.io/tls
  files:
  - tls.crt
  - tls.key
""", tls_DOT_crt="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", tls_DOT_key="-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
CASES["gen-secret-env"] = k("""
secretGenerator:
- name: envsecret
  envs: [s.env]
""", s_DOT_env="TOKEN=abc\nURL=https://x.example/?a=1&b=2\n")
CASES["gen-empty-configmap"] = k("""
configMapGenerator:
- name: empty
""")
CASES["gen-empty-secret"] = k("""
secretGenerator:
- name: empty
""")
CASES["gen-hash-with-prefix-suffix-namespace"] = k("""
namePrefix: pre-
nameSuffix: -suf
namespace: prod
commonLabels: {app: x}
configMapGenerator:
- name: cfg
  literals: [A=1]
secretGenerator:
- name: sec
  literals: [B=2]
""")
CASES["gen-referenced-by-deployment"] = k("""
resources: [deployment.yaml]
configMapGenerator:
- name: web-config
  literals: [LOG_LEVEL=warn]
secretGenerator:
- name: web-secret
  literals: [TOKEN=t]
""", deployment_DOT_yaml=DEPLOY.replace("      volumes:\n", "        - name: secret\n          mountPath: /etc/secret\n      volumes:\n      - name: secret\n        secret:\n          secretName: web-secret\n"))
CASES["gen-referenced-env-valuefrom"] = k("""
resources: [pod.yaml]
configMapGenerator:
- name: settings
  literals: [K=v]
secretGenerator:
- name: keys
  literals: [S=v]
""", pod_DOT_yaml=d("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    env:
    - name: K
      valueFrom:
        configMapKeyRef: {name: settings, key: K}
    - name: S
      valueFrom:
        secretKeyRef: {name: keys, key: S}
  volumes:
  - name: proj
    projected:
      sources:
      - configMap: {name: settings}
      - secret: {name: keys}
"""))
BASEGEN = {"base/kustomization.yaml": d("""
resources: [deployment.yaml]
configMapGenerator:
- name: web-config
  literals: [LOG_LEVEL=info, KEEP=1]
  options:
    labels: {from: base}
"""), "base/deployment.yaml": DEPLOY}
CASES["gen-behavior-merge"] = {**BASEGEN, "overlay/kustomization.yaml": d("""
resources: [../base]
configMapGenerator:
- name: web-config
  behavior: merge
  literals: [LOG_LEVEL=debug, NEW=2]
  options:
    labels: {from: overlay}
"""), "entry": "overlay"}
CASES["gen-behavior-replace"] = {**BASEGEN, "overlay/kustomization.yaml": d("""
resources: [../base]
configMapGenerator:
- name: web-config
  behavior: replace
  literals: [ONLY=this]
"""), "entry": "overlay"}
CASES["gen-behavior-merge-with-base-prefix"] = {**BASEGEN, "base/kustomization.yaml": "namePrefix: b-\n" + BASEGEN["base/kustomization.yaml"],
    "overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: o-\nconfigMapGenerator:\n- name: web-config\n  behavior: merge\n  literals: [X=1]\n", "entry": "overlay"}
CASES["gen-behavior-create-conflict-error"] = {**BASEGEN, "overlay/kustomization.yaml": "resources: [../base]\nconfigMapGenerator:\n- name: web-config\n  literals: [X=1]\n", "entry": "overlay", "expected-error.txt": "behavior must be merge or replace"}
CASES["gen-behavior-merge-missing-error"] = k("""
configMapGenerator:
- name: nothing-here
  behavior: merge
  literals: [X=1]
""")
CASES["gen-behavior-merge-missing-error"]["expected-error.txt"] = "does not exist; cannot merge or replace"
CASES["gen-behavior-merge-onto-plain-configmap"] = {"base/kustomization.yaml": "resources: [cm.yaml]\n", "base/cm.yaml": CONFIGMAP,
    "overlay/kustomization.yaml": "resources: [../base]\nconfigMapGenerator:\n- name: web-config\n  behavior: merge\n  literals: [EXTRA=1]\n", "entry": "overlay"}
CASES["gen-missing-file-error"] = k("""
configMapGenerator:
- name: f
  files: [nope.txt]
""")
CASES["gen-missing-file-error"]["expected-error.txt"] = "nope.txt: no such file or directory"
CASES["gen-file-outside-root-error"] = {"app/kustomization.yaml": "configMapGenerator:\n- name: f\n  files: [../secret.txt]\n", "secret.txt": "x", "entry": "app", "expected-error.txt": "is not in or below"}
CASES["gen-binary-file"] = {"kustomization.yaml": "configMapGenerator:\n- name: bin\n  files: [blob.bin]\n", "blob.bin": b"\xff\xfe\x00binary"}
CASES["gen-generators-field-builtin"] = k("""
generators:
- gen.yaml
""", gen_DOT_yaml=d("""
apiVersion: builtin
kind: ConfigMapGenerator
metadata:
  name: from-plugin
literals:
- A=1
"""))
CASES["gen-secret-generator-builtin-plugin"] = k("""
generators:
- |-
  apiVersion: builtin
  kind: SecretGenerator
  metadata:
    name: plugin-secret
    namespace: ns1
  literals:
  - A=1
  type: Opaque
""")
CASES["gen-hash-roles-and-cronjob-refs"] = k("""
resources: [cj.yaml]
configMapGenerator:
- name: job-config
  literals: [X=1]
""", cj_DOT_yaml=d("""
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox
            envFrom: [{configMapRef: {name: job-config}}]
          volumes:
          - name: v
            configMap: {name: job-config}
"""))
