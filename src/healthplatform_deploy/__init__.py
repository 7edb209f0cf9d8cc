"""Offline checks of the deployment (Helm chart, GitOps, backups, network policies, secrets).

A package of its own, next to the product's runtime package ``healthplatform``: it may read
the runtime's settings classes (to check the environment the chart renders), but nothing in
``healthplatform`` imports it (tests/deploy/test_package_imports.py). Command line:
``healthplatform-deploy`` (:mod:`healthplatform_deploy.cli`).
"""
