# A sensitive value the API server refuses and quotes in its answer: a
# label value with spaces. sluice must mask it in the failed row.

variable "team_label" {
  type      = string
  sensitive = true
  default   = "Hidden Team Label!"
}

resource "kubernetes_manifest" "labelled" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata = {
      name      = "labelled"
      namespace = var.namespace
      labels    = { team = var.team_label }
    }
    data = { "mode" = "blue" }
  }
}
