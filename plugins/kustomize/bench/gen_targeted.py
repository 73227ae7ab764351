#!/usr/bin/env python3
"""Generate the targeted-patch benchmark tree into DIR: a base of 2,001
objects (a Deployment, a Service and a ConfigMap for each of 667 services)
and three overlay layers; each layer has a namePrefix, commonLabels,
commonAnnotations, images, a configMapGenerator and 50, 60 and 70 JSON 6902
patches, each targeted by kind and name (the shape of issue 15).
Usage: gen_targeted.py DIR   (the app path to build is DIR/overlays/l3)"""
import os, sys

root = sys.argv[1]
def w(rel, text):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)

N = 667  # three objects each: 2,001 objects in the base
files = []
for i in range(N):
    name = f"svc{i:04d}"
    w(f"base/{name}.yaml", f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0.0
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: base
        envFrom:
        - configMapRef:
            name: {name}-config
        volumeMounts:
        - name: config
          mountPath: /etc/app
      volumes:
      - name: config
        configMap:
          name: {name}-config
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  INDEX: "{i}"
""")
    files.append(f"{name}.yaml")
w("base/kustomization.yaml", "resources:\n" + "".join(f"- {f}\n" for f in files))

def patch(layer, j):
    """The j-th patch of a layer: a kind and a name, and operations that
    apply to that kind."""
    i = (layer * 211 + j * 37) % N
    name = f"svc{i:04d}"
    kind = ("Deployment", "Service", "ConfigMap")[j % 3]
    if kind == "Deployment":
        ops = f"""    - op: replace
      path: /spec/replicas
      value: {layer + 1}
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value:
        name: PATCHED_BY
        value: l{layer}-{j}"""
    elif kind == "Service":
        ops = f"""    - op: replace
      path: /spec/ports/0/targetPort
      value: {8000 + layer * 100 + j}"""
    else:
        name = f"{name}-config"
        ops = f"""    - op: add
      path: /data/PATCH_{layer}_{j}
      value: "{j}"
    - op: replace
      path: /data/LOG_LEVEL
      value: debug"""
    return f"""- target:
    kind: {kind}
    name: {name}
  patch: |-
{ops}
"""

prev = "../../base"
for layer, count in ((1, 50), (2, 60), (3, 70)):
    patches = "".join(patch(layer, j) for j in range(count))
    w(f"overlays/l{layer}/kustomization.yaml", f"""resources:
- {prev}
namePrefix: l{layer}-
commonLabels:
  layer: l{layer}
commonAnnotations:
  owner: team-{layer}
images:
- name: registry.example.com/app
  newTag: "1.{layer}.0"
configMapGenerator:
- name: layer{layer}-settings
  literals:
  - LAYER={layer}
  - FEATURE_{layer}=enabled
patches:
{patches}""")
    prev = f"../l{layer}"
