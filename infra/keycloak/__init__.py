"""Keycloak realm export and provisioning of the tenant tree (DESIGN §4)."""
