# A value known only after apply: terraform_data's id.

resource "terraform_data" "seed" {
  input = "seed"
}

resource "kubernetes_config_map_v1" "with_unknown" {
  metadata {
    name      = "with-unknown"
    namespace = var.namespace
  }
  data = {
    known = "yes"
    seed  = terraform_data.seed.id
  }
}
