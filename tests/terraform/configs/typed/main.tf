# Every typed resource sluice converts, by its _v1 name, with the fields
# whose shape differs between the provider and the API.

variable "db_password" {
  type      = string
  sensitive = true
  default   = "s3cr3t-typed-PW"
}

resource "kubernetes_namespace_v1" "ns" {
  metadata {
    name   = var.namespace
    labels = { team = "payments" }
  }
}

resource "kubernetes_config_map_v1" "settings" {
  metadata {
    name        = "settings"
    namespace   = kubernetes_namespace_v1.ns.metadata[0].name
    labels      = { app = "web", "app.kubernetes.io/part-of" = "shop" }
    annotations = { "example.com/owner" = "team-a" }
  }
  data = {
    "log_level"   = "info"
    "config.yaml" = "a: 1\nb: two\n"
    "db_password" = var.db_password
  }
  binary_data = { "blob" = "AAEC" }
}

resource "kubernetes_secret_v1" "db" {
  metadata {
    name      = "db"
    namespace = var.namespace
  }
  type = "Opaque"
  data = {
    username = "app"
    password = var.db_password
  }
}

resource "kubernetes_service_account_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
  }
  automount_service_account_token = false
  image_pull_secret {
    name = "registry"
  }
}

resource "kubernetes_deployment_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
    labels    = { app = "web" }
  }
  wait_for_rollout = false
  spec {
    replicas               = 2
    revision_history_limit = 5
    selector {
      match_labels = { app = "web" }
    }
    strategy {
      type = "RollingUpdate"
      rolling_update {
        max_surge       = "25%"
        max_unavailable = "1"
      }
    }
    template {
      metadata {
        labels      = { app = "web" }
        annotations = { "example.com/rev" = "1" }
      }
      spec {
        service_account_name = "web"
        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          fs_group        = 2000
        }
        container {
          name    = "web"
          image   = "nginx:1.27"
          args    = ["--port", "8080"]
          port {
            name           = "http"
            container_port = 8080
          }
          env {
            name  = "MODE"
            value = "production"
          }
          env {
            name = "DB_PASSWORD"
            value_from {
              secret_key_ref {
                name = "db"
                key  = "password"
              }
            }
          }
          env_from {
            config_map_ref {
              name = "settings"
            }
          }
          resources {
            limits   = { cpu = "500m", memory = "256Mi" }
            requests = { cpu = "100m", memory = "128Mi" }
          }
          readiness_probe {
            http_get {
              path = "/healthz"
              port = "8080"
            }
            initial_delay_seconds = 5
            period_seconds        = 10
          }
          volume_mount {
            name       = "config"
            mount_path = "/etc/web"
            read_only  = true
          }
          volume_mount {
            name       = "cache"
            mount_path = "/var/cache/web"
          }
        }
        volume {
          name = "config"
          config_map {
            name         = "settings"
            default_mode = "0644"
          }
        }
        volume {
          name = "cache"
          empty_dir {
            size_limit = "1Gi"
          }
        }
        toleration {
          key      = "dedicated"
          operator = "Equal"
          value    = "web"
          effect   = "NoSchedule"
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
  }
  spec {
    selector = { app = "web" }
    port {
      name        = "http"
      port        = 80
      target_port = "8080"
    }
    type = "ClusterIP"
  }
}

resource "kubernetes_stateful_set_v1" "db" {
  metadata {
    name      = "db"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    replicas     = 1
    service_name = "db"
    selector {
      match_labels = { app = "db" }
    }
    template {
      metadata {
        labels = { app = "db" }
      }
      spec {
        container {
          name  = "db"
          image = "postgres:16"
          port {
            container_port = 5432
          }
          volume_mount {
            name       = "data"
            mount_path = "/var/lib/postgresql/data"
          }
        }
      }
    }
    volume_claim_template {
      metadata {
        name = "data"
      }
      spec {
        access_modes = ["ReadWriteOnce"]
        resources {
          requests = { storage = "1Gi" }
        }
      }
    }
  }
}

resource "kubernetes_daemon_set_v1" "agent" {
  metadata {
    name      = "agent"
    namespace = var.namespace
  }
  wait_for_rollout = false
  spec {
    selector {
      match_labels = { app = "agent" }
    }
    template {
      metadata {
        labels = { app = "agent" }
      }
      spec {
        container {
          name    = "agent"
          image   = "busybox:1.36"
          command = ["sh", "-c", "sleep infinity"]
        }
      }
    }
  }
}

resource "kubernetes_job_v1" "migrate" {
  metadata {
    name      = "migrate"
    namespace = var.namespace
  }
  wait_for_completion = false
  spec {
    backoff_limit = 2
    template {
      metadata {}
      spec {
        restart_policy = "Never"
        container {
          name    = "migrate"
          image   = "busybox:1.36"
          command = ["echo", "migrated"]
        }
      }
    }
  }
}

resource "kubernetes_cron_job_v1" "report" {
  metadata {
    name      = "report"
    namespace = var.namespace
  }
  spec {
    schedule                      = "0 3 * * *"
    concurrency_policy            = "Forbid"
    successful_jobs_history_limit = 1
    job_template {
      metadata {}
      spec {
        template {
          metadata {}
          spec {
            restart_policy = "OnFailure"
            container {
              name    = "report"
              image   = "busybox:1.36"
              command = ["echo", "report"]
            }
          }
        }
      }
    }
  }
}

resource "kubernetes_ingress_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
  }
  spec {
    ingress_class_name = "nginx"
    rule {
      host = "shop.example.com"
      http {
        path {
          path      = "/"
          path_type = "Prefix"
          backend {
            service {
              name = "web"
              port {
                number = 80
              }
            }
          }
        }
      }
    }
    tls {
      hosts       = ["shop.example.com"]
      secret_name = "shop-tls"
    }
  }
}

resource "kubernetes_persistent_volume_claim_v1" "uploads" {
  metadata {
    name      = "uploads"
    namespace = var.namespace
  }
  wait_until_bound = false
  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = "standard"
    resources {
      requests = { storage = "2Gi" }
    }
  }
}

resource "kubernetes_role_v1" "reader" {
  metadata {
    name      = "reader"
    namespace = var.namespace
  }
  rule {
    api_groups = [""]
    resources  = ["configmaps", "pods"]
    verbs      = ["get", "list", "watch"]
  }
}

resource "kubernetes_role_binding_v1" "reader" {
  metadata {
    name      = "reader"
    namespace = var.namespace
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = "reader"
  }
  subject {
    kind      = "ServiceAccount"
    name      = "web"
    namespace = var.namespace
  }
}

resource "kubernetes_cluster_role_v1" "metrics" {
  metadata {
    name = "${var.namespace}-metrics"
  }
  rule {
    non_resource_urls = ["/metrics"]
    verbs             = ["get"]
  }
  rule {
    api_groups = ["apps"]
    resources  = ["deployments"]
    verbs      = ["get", "list"]
  }
}

resource "kubernetes_cluster_role_binding_v1" "metrics" {
  metadata {
    name = "${var.namespace}-metrics"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "${var.namespace}-metrics"
  }
  subject {
    kind      = "ServiceAccount"
    name      = "web"
    namespace = var.namespace
  }
}

resource "kubernetes_horizontal_pod_autoscaler_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
  }
  spec {
    min_replicas                      = 2
    max_replicas                      = 5
    target_cpu_utilization_percentage = 75
    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = "web"
    }
  }
}

resource "kubernetes_network_policy_v1" "web" {
  metadata {
    name      = "web"
    namespace = var.namespace
  }
  spec {
    pod_selector {
      match_labels = { app = "web" }
    }
    policy_types = ["Ingress", "Egress"]
    ingress {
      from {
        pod_selector {
          match_expressions {
            key      = "role"
            operator = "In"
            values   = ["frontend"]
          }
        }
      }
      ports {
        port     = "8080"
        protocol = "TCP"
      }
    }
    egress {
      to {
        ip_block {
          cidr   = "10.0.0.0/8"
          except = ["10.1.0.0/16"]
        }
      }
    }
  }
}
