#!/usr/bin/env python3
"""Generate the large benchmark overlay into DIR: a base of 2,000 objects
(Deployments, Services, ConfigMaps, ServiceAccounts) and three overlay
layers, each with patches, generators, a name prefix and labels.
Usage: gen_tree.py DIR   (the app path to build is DIR/overlays/l3)"""
import os, sys

root = sys.argv[1]
def w(rel, text):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)

N = 500  # four objects each: 2,000 objects in the base
files = []
for i in range(N):
    name = f"svc{i:04d}"
    w(f"base/{name}.yaml", f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  INDEX: "{i}"
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
apiVersion: apps/v1
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
      serviceAccountName: {name}
      containers:
      - name: app
        image: registry.example.com/app:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: {name}-config
        env:
        - name: MODE
          value: base
        volumeMounts:
        - name: config
          mountPath: /etc/app
      volumes:
      - name: config
        configMap:
          name: {name}-config
""")
    files.append(f"{name}.yaml")
w("base/kustomization.yaml", "resources:\n" + "".join(f"- {f}\n" for f in files))

prev = "../../base"
for layer in (1, 2, 3):
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
  - FEATURE_{layer}=on
secretGenerator:
- name: layer{layer}-secret
  literals:
  - TOKEN=secret-{layer}
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            env:
            - name: MODE
              value: layer{layer}
            - name: LAYER
              valueFrom:
                configMapKeyRef:
                  name: layer{layer}-settings
                  key: LAYER
- target:
    kind: Service
    name: svc00.*
  patch: |-
    - op: add
      path: /metadata/annotations/patched-by
      value: l{layer}
""")
    prev = f"../l{layer}"
