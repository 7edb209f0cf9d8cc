# A budget alarm: OCI Budgets are free. The budget watches the compartment this stack
# creates; the alert emails budget_alert_email as soon as the actual spend of the month
# passes 1 % of a 1-unit budget (a cent in USD), i.e. on the first billed resource (a third
# A1 node from a surge, a paid load balancer shape, storage over the free tier, ...).
# Budgets must live in the root compartment (the tenancy) and need tenancy-level rights.

resource "oci_budget_budget" "always_free" {
  count = var.budget_alert_email == null ? 0 : 1

  compartment_id = var.tenancy_ocid
  amount         = 1
  reset_period   = "MONTHLY"
  target_type    = "COMPARTMENT"
  targets        = [var.compartment_ocid]
  display_name   = "${local.cluster_name}-always-free"
  description    = "Any spend in the Always Free compartment of ${local.cluster_name}."
  freeform_tags  = var.freeform_tags
}

resource "oci_budget_alert_rule" "any_spend" {
  count = var.budget_alert_email == null ? 0 : 1

  budget_id      = oci_budget_budget.always_free[0].id
  type           = "ACTUAL"
  threshold      = 1
  threshold_type = "PERCENTAGE"
  recipients     = var.budget_alert_email
  display_name   = "any-spend"
  message        = "Spend in the Always Free compartment of ${local.cluster_name}: something is billed (docs/terraform.md, \"Cost\")."
}
