# A resource of the kubernetes provider sluice does not convert.

resource "kubernetes_limit_range_v1" "limits" {
  metadata {
    name      = "limits"
    namespace = var.namespace
  }
  spec {
    limit {
      type            = "Container"
      default         = { cpu = "200m" }
      default_request = { cpu = "100m" }
    }
  }
}
