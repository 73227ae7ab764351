# A plan that fails: a precondition that does not hold.

variable "replicas" {
  type    = number
  default = 0
}

resource "kubernetes_config_map_v1" "guarded" {
  metadata {
    name      = "guarded"
    namespace = var.namespace
  }
  data = { replicas = tostring(var.replicas) }
  lifecycle {
    precondition {
      condition     = var.replicas > 0
      error_message = "replicas must be positive for a production rollout"
    }
  }
}
