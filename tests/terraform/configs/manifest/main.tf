# kubernetes_manifest resources: the manifest is the object.

variable "api_token" {
  type      = string
  sensitive = true
  default   = "manifest-token-Zq8"
}

resource "kubernetes_manifest" "config" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata = {
      name      = "manifest-config"
      namespace = var.namespace
      labels    = { app = "api" }
    }
    data = {
      "mode"  = "blue"
      "token" = var.api_token
    }
  }
}

resource "kubernetes_manifest" "api" {
  manifest = {
    apiVersion = "apps/v1"
    kind       = "Deployment"
    metadata = {
      name      = "api"
      namespace = var.namespace
    }
    spec = {
      replicas = 2
      selector = { matchLabels = { app = "api" } }
      template = {
        metadata = { labels = { app = "api" } }
        spec = {
          containers = [{
            name  = "api"
            image = "nginx:1.27"
            ports = [{ containerPort = 8080, name = "http" }]
            env   = [{ name = "MODE", value = "blue" }]
          }]
        }
      }
    }
  }
}

resource "kubernetes_manifest" "svc" {
  manifest = {
    apiVersion = "v1"
    kind       = "Service"
    metadata = {
      name      = "api"
      namespace = var.namespace
    }
    spec = {
      selector = { app = "api" }
      ports    = [{ port = 80, targetPort = "http", protocol = "TCP" }]
    }
  }
}
