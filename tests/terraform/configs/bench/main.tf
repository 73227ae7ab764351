# 1,000 resources for the renderer's benchmark: 500 ConfigMaps,
# 250 Deployments, 250 Services (typed resources, the costlier conversion).

resource "kubernetes_config_map_v1" "cm" {
  count = 500
  metadata {
    name      = "cm-${count.index}"
    namespace = var.namespace
    labels    = { app = "bench", index = tostring(count.index) }
  }
  data = { key = "value-${count.index}", other = "x" }
}

resource "kubernetes_deployment_v1" "web" {
  count = 250
  metadata {
    name      = "web-${count.index}"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    replicas = 1
    selector {
      match_labels = { app = "web-${count.index}" }
    }
    template {
      metadata {
        labels = { app = "web-${count.index}" }
      }
      spec {
        container {
          name  = "web"
          image = "nginx:1.27"
          port {
            container_port = 8080
          }
          resources {
            requests = { cpu = "10m", memory = "16Mi" }
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "web" {
  count = 250
  metadata {
    name      = "web-${count.index}"
    namespace = var.namespace
  }
  spec {
    selector = { app = "web-${count.index}" }
    port {
      port        = 80
      target_port = "8080"
    }
  }
}
