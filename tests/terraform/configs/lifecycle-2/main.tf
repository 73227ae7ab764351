# Planned against lifecycle-1's state: no-op, update, replace, delete,
# forget; and `drifted` was changed with kubectl in between (drift).

resource "kubernetes_config_map_v1" "keep" {
  metadata {
    name      = "keep"
    namespace = var.namespace
  }
  data = { v = "1" }
}

resource "kubernetes_config_map_v1" "change" {
  metadata {
    name      = "change"
    namespace = var.namespace
  }
  data = { v = "2" }
}

resource "kubernetes_config_map_v1" "rename" {
  metadata {
    name      = "rename-new"
    namespace = var.namespace
  }
  data = { v = "1" }
}

# kubernetes_config_map_v1.drop is gone: delete.

removed {
  from = kubernetes_config_map_v1.forgotten
  lifecycle {
    destroy = false
  }
}

resource "kubernetes_manifest" "drifted" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "drifted", namespace = var.namespace }
    data       = { v = "1" }
  }
  # Take data.v back from the kubectl edit.
  field_manager {
    force_conflicts = true
  }
}

resource "kubernetes_deployment_v1" "scale" {
  metadata {
    name      = "scale"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    replicas = 3
    selector {
      match_labels = { app = "scale" }
    }
    template {
      metadata {
        labels = { app = "scale" }
      }
      spec {
        container {
          name  = "app"
          image = "nginx:1.27"
        }
      }
    }
  }
}
