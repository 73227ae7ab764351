# Another provider's resources (the built-in terraform_data) next to a
# Kubernetes object, for resources=all.

variable "build_secret" {
  type      = string
  sensitive = true
  default   = "other-build-secret-77"
}

resource "terraform_data" "release" {
  input = {
    version = "1.4.2"
    channel = "stable"
  }
}

resource "terraform_data" "build" {
  input            = var.build_secret
  triggers_replace = ["v1"]
}

resource "kubernetes_config_map_v1" "release" {
  metadata {
    name      = "release"
    namespace = var.namespace
  }
  data = { version = "1.4.2" }
}

# A data source read only at apply time (it depends on a resource): in the
# plan as a "read" change, which is not an object.
data "kubernetes_config_map_v1" "release" {
  metadata {
    name      = kubernetes_config_map_v1.release.metadata[0].name
    namespace = var.namespace
  }
}
