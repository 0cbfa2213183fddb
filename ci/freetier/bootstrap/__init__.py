"""`freetier bootstrap`: after the talos layer, Flux installed from its pinned release
manifests, the `sops-age` Secret from the age identity, the sync of this repository's
`clusters/<name>`, and the wait until the cluster reconciles (kstatus). The modules are
imported by name; this file imports nothing."""
