# The deprecated plain names of the same resources (kubernetes_daemonset,
# kubernetes_ingress with the networking.k8s.io/v1beta1 schema,
# kubernetes_cron_job with batch/v1beta1's), which sluice renders in the
# API's current versions.

resource "kubernetes_namespace" "ns" {
  metadata {
    name = var.namespace
  }
}

resource "kubernetes_config_map" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  data = { greeting = "hello" }
}

resource "kubernetes_secret" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  data = { token = "plain-secret-token-1" }
}

resource "kubernetes_service_account" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
}

resource "kubernetes_deployment" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    replicas = 1
    selector {
      match_labels = { app = "plain" }
    }
    template {
      metadata {
        labels = { app = "plain" }
      }
      spec {
        container {
          name  = "web"
          image = "nginx:1.27"
        }
      }
    }
  }
}

resource "kubernetes_service" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  spec {
    selector = { app = "plain" }
    port {
      port        = 80
      target_port = "http"
    }
  }
}

resource "kubernetes_stateful_set" "plain" {
  metadata {
    name      = "plain-db"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    service_name = "plain-db"
    selector {
      match_labels = { app = "plain-db" }
    }
    template {
      metadata {
        labels = { app = "plain-db" }
      }
      spec {
        container {
          name  = "db"
          image = "postgres:16"
        }
      }
    }
  }
}

resource "kubernetes_daemonset" "plain" {
  metadata {
    name      = "plain-agent"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    selector {
      match_labels = { app = "plain-agent" }
    }
    template {
      metadata {
        labels = { app = "plain-agent" }
      }
      spec {
        container {
          name  = "agent"
          image = "busybox:1.36"
        }
      }
    }
  }
}

resource "kubernetes_job" "plain" {
  metadata {
    name      = "plain-job"
    namespace = var.namespace
  }
  wait_for_completion = false
  spec {
    template {
      metadata {}
      spec {
        restart_policy = "Never"
        container {
          name  = "job"
          image = "busybox:1.36"
        }
      }
    }
  }
}

resource "kubernetes_cron_job" "plain" {
  metadata {
    name      = "plain-cron"
    namespace = var.namespace
  }
  spec {
    schedule = "*/5 * * * *"
    job_template {
      metadata {}
      spec {
        template {
          metadata {}
          spec {
            restart_policy = "OnFailure"
            container {
              name  = "cron"
              image = "busybox:1.36"
            }
          }
        }
      }
    }
  }
}

resource "kubernetes_ingress" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  spec {
    backend {
      service_name = "plain"
      service_port = 80
    }
    rule {
      host = "plain.example.com"
      http {
        path {
          path = "/api"
          backend {
            service_name = "plain"
            service_port = "http"
          }
        }
      }
    }
  }
}

resource "kubernetes_persistent_volume_claim" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  wait_until_bound = false
  spec {
    access_modes = ["ReadWriteOnce"]
    resources {
      requests = { storage = "1Gi" }
    }
  }
}

resource "kubernetes_role" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  rule {
    api_groups = [""]
    resources  = ["secrets"]
    verbs      = ["get"]
  }
}

resource "kubernetes_role_binding" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = "plain"
  }
  subject {
    kind      = "User"
    name      = "alice"
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_cluster_role" "plain" {
  metadata {
    name = "${var.namespace}-plain"
  }
  rule {
    api_groups = [""]
    resources  = ["namespaces"]
    verbs      = ["list"]
  }
}

resource "kubernetes_cluster_role_binding" "plain" {
  metadata {
    name = "${var.namespace}-plain"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "${var.namespace}-plain"
  }
  subject {
    kind      = "Group"
    name      = "ops"
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_horizontal_pod_autoscaler" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  spec {
    min_replicas = 1
    max_replicas = 3
    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = "plain"
    }
    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = 60
        }
      }
    }
  }
}

resource "kubernetes_network_policy" "plain" {
  metadata {
    name      = "plain"
    namespace = var.namespace
  }
  spec {
    pod_selector {}
    policy_types = ["Ingress"]
  }
}
