# A budget cannot stop spending; it only tells you. It lives in the root
# compartment, watches the stack's compartment, and alerts on the first cent
# actually spent and on the first cent forecast for the month.

resource "oci_budget_budget" "this" {
  compartment_id = local.tenancy_ocid
  display_name   = "${var.name}-monthly"
  description    = "freetier ${var.name}: should stay at zero; any spend means something left the Always Free allowance."
  amount         = var.budget_amount
  reset_period   = "MONTHLY"
  target_type    = "COMPARTMENT"
  targets        = [var.compartment_ocid]
  freeform_tags  = local.common_tags
}

resource "oci_budget_alert_rule" "actual" {
  budget_id      = oci_budget_budget.this.id
  display_name   = "${var.name}-actual-spend"
  description    = "Actual spend above $0.01"
  type           = "ACTUAL"
  threshold_type = "ABSOLUTE"
  threshold      = 0.01
  recipients     = var.budget_alert_email
  message        = "freetier ${var.name}: OCI has billed more than 0.01 this month. Something is outside the Always Free allowance; run `freetier validate`."
}

resource "oci_budget_alert_rule" "forecast" {
  budget_id      = oci_budget_budget.this.id
  display_name   = "${var.name}-forecast-spend"
  description    = "Forecast spend above $0.01"
  type           = "FORECAST"
  threshold_type = "ABSOLUTE"
  threshold      = 0.01
  recipients     = var.budget_alert_email
  message        = "freetier ${var.name}: OCI forecasts a bill above 0.01 this month. Check what is running outside the Always Free allowance."
}
