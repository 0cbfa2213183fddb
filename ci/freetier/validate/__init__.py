"""`freetier validate`: after a deploy, prove the stack is alive and still free, one
independent check at a time (images, oci, cost, talos, flux)."""
