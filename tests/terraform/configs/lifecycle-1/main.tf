# Applied first; lifecycle-2 is then planned against the state it leaves.

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
  data = { v = "1" }
}

resource "kubernetes_config_map_v1" "rename" {
  metadata {
    name      = "rename-old"
    namespace = var.namespace
  }
  data = { v = "1" }
}

resource "kubernetes_config_map_v1" "drop" {
  metadata {
    name      = "drop"
    namespace = var.namespace
  }
  data = { v = "1" }
}

resource "kubernetes_config_map_v1" "forgotten" {
  metadata {
    name      = "forgotten"
    namespace = var.namespace
  }
  data = { v = "1" }
}

resource "kubernetes_manifest" "drifted" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "drifted", namespace = var.namespace }
    data       = { v = "1" }
  }
}

resource "kubernetes_deployment_v1" "scale" {
  metadata {
    name      = "scale"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    replicas = 1
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
          image = "nginx:1.26"
        }
      }
    }
  }
}
