"""Shared building blocks for the conformance case generators.

Each generator module defines CASES: a dict from case name to a dict of
{relative path: file text}. Special files: `entry` (app path), `params`
(name=value lines), `expected-error.txt` (substring of the error).
"""
import os, shutil, textwrap

def d(s):
    return textwrap.dedent(s).lstrip("\n")

DEPLOY = d("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: base
        envFrom:
        - configMapRef:
            name: web-config
        volumeMounts:
        - name: config
          mountPath: /etc/web
      volumes:
      - name: config
        configMap:
          name: web-config
""")

SERVICE = d("""
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
""")

CONFIGMAP = d("""
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  LOG_LEVEL: info
""")

def kust(s):
    return d(s)

def write_cases(root, cases):
    for name, files in cases.items():
        cdir = os.path.join(root, name)
        # Keep the oracle's expectation across a rewrite (tests/regen.sh
        # refreshes it).
        expected = None
        if os.path.isfile(os.path.join(cdir, "expected.yaml")) and "expected-error.txt" not in files:
            with open(os.path.join(cdir, "expected.yaml"), "rb") as f:
                expected = f.read()
        if os.path.isdir(cdir):
            shutil.rmtree(cdir)
        for rel, text in files.items():
            p = os.path.join(cdir, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            data = text if isinstance(text, bytes) else text.encode()
            with open(p, "wb") as f:
                f.write(data)
        if expected is not None:
            with open(os.path.join(cdir, "expected.yaml"), "wb") as f:
                f.write(expected)
