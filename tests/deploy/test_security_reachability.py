"""The NetworkPolicy engine of healthplatform_deploy.network_policy on tiny hand-written clusters.

Each case is one rule of the NetworkPolicy API that a policy author gets wrong: isolation
per direction, both ends must allow, peers (pod, namespace, both, ipBlock), named ports,
the namespace label that does not exist (the DNS trap of the previous attempt) and a policy
whose selector matches no pod (it neither isolates nor allows anything).
"""

from __future__ import annotations

from typing import Any

import pytest

from healthplatform_deploy import network_policy, reachability

pytestmark = pytest.mark.deploy

NS = "app"


def np(name: str, spec: dict[str, Any], namespace: str = NS) -> network_policy.Policy:
    return network_policy.Policy.parse(
        {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec},
        namespace,
    )


def world(
    *policies: network_policy.Policy,
) -> tuple[network_policy.Cluster, dict[str, network_policy.Endpoint]]:
    cluster = network_policy.Cluster()
    eps = {
        "web": network_policy.endpoint(
            "web", NS, {"app": "web"}, "10.244.0.2", [("http", 8000, "TCP")]
        ),
        "db": network_policy.endpoint("db", NS, {"app": "db"}, "10.244.0.3", [("pg", 5432, "TCP")]),
        "other": network_policy.endpoint(
            "other", "other", {"app": "web"}, "10.244.0.4", [("http", 8000, "TCP")]
        ),
        "dns": network_policy.endpoint(
            "dns",
            "kube-system",
            {"k8s-app": "kube-dns"},
            "10.244.0.5",
            [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")],
        ),
        "internet": network_policy.endpoint(
            "internet", None, {}, "203.0.113.10", [(None, 443, "TCP")]
        ),
        "metadata": network_policy.endpoint(
            "metadata", None, {}, "169.254.169.254", [(None, 80, "TCP")]
        ),
    }
    for ep in eps.values():
        cluster.add(ep)
    cluster.policies = list(policies)
    return cluster, eps


DENY_ALL = np("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
WEB = {"matchLabels": {"app": "web"}}
DB = {"matchLabels": {"app": "db"}}


def test_no_policy_allows_everything() -> None:
    cluster, e = world()
    assert cluster.allowed(e["web"], e["db"], 5432)
    assert cluster.allowed(e["other"], e["web"], 8000)
    assert cluster.allowed(e["web"], e["metadata"], 80)


def test_default_deny_isolates_both_directions() -> None:
    cluster, e = world(DENY_ALL)
    assert cluster.isolated(e["web"], "Ingress") and cluster.isolated(e["web"], "Egress")
    assert not cluster.allowed(e["web"], e["db"], 5432)
    assert not cluster.allowed(e["web"], e["dns"], 53, "UDP")
    assert not cluster.allowed(e["other"], e["web"], 8000)
    # pods of another namespace are not isolated by it
    assert cluster.allowed(e["other"], e["dns"], 53, "UDP")


def test_ingress_only_deny_leaves_egress_open() -> None:
    cluster, e = world(np("deny-in", {"podSelector": {}}))  # policyTypes default: Ingress
    assert cluster.isolated(e["db"], "Ingress") and not cluster.isolated(e["db"], "Egress")
    assert not cluster.allowed(e["web"], e["db"], 5432)
    assert cluster.allowed(e["db"], e["internet"], 443)


def test_an_egress_section_without_policy_types_also_isolates_ingress() -> None:
    """policyTypes defaults to Ingress (+ Egress when egress is present): a policy that only
    meant to limit egress also cuts every connection into the pod."""
    cluster, e = world(np("egress-only", {"podSelector": DB, "egress": [{}]}))
    assert cluster.isolated(e["db"], "Ingress")
    assert not cluster.allowed(e["web"], e["db"], 5432)


def test_both_ends_must_allow() -> None:
    egress = np(
        "web-out",
        {"podSelector": WEB, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": DB}]}]},
    )
    cluster, e = world(DENY_ALL, egress)
    assert not cluster.allowed(e["web"], e["db"], 5432), "db ingress still denies"
    ingress = np("db-in", {"podSelector": DB, "ingress": [{"from": [{"podSelector": WEB}]}]})
    cluster.policies.append(ingress)
    assert cluster.allowed(e["web"], e["db"], 5432)
    assert not cluster.allowed(e["db"], e["web"], 8000), "allowing one way is not the other"


def test_dns_namespace_label_trap() -> None:
    """`name: kube-system` is not a label namespaces carry; kubernetes.io/metadata.name is."""
    wrong = np(
        "dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]}],
        },
    )
    cluster, e = world(DENY_ALL, wrong)
    assert not cluster.allowed(e["web"], e["dns"], 53, "UDP")
    right = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    dns_pods = {"matchLabels": {"k8s-app": "kube-dns"}}
    cluster.policies[1] = np(
        "dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"namespaceSelector": right, "podSelector": dns_pods}],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                }
            ],
        },
    )
    assert cluster.allowed(e["web"], e["dns"], 53, "UDP")
    assert cluster.allowed(e["web"], e["dns"], 53, "TCP")
    assert not cluster.allowed(e["web"], e["other"], 8000)


def test_a_namespace_with_the_label_added_matches() -> None:
    cluster, e = world(
        DENY_ALL,
        np(
            "dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]}
                ],
            },
        ),
    )
    cluster.namespaces["kube-system"] = {"name": "kube-system"}
    assert cluster.allowed(e["web"], e["dns"], 53, "UDP")


def test_a_policy_selecting_no_pods_isolates_and_allows_nothing() -> None:
    typo = {"matchLabels": {"app": "wbe"}}
    deny = np("deny-web", {"podSelector": typo, "policyTypes": ["Ingress", "Egress"]})
    cluster, e = world(deny)
    assert not cluster.isolated(e["web"], "Ingress")
    assert cluster.allowed(e["other"], e["web"], 8000), "the intended deny does nothing"
    allow = np("allow-web", {"podSelector": typo, "ingress": [{"from": [{"podSelector": DB}]}]})
    cluster, e = world(DENY_ALL, allow)
    assert not cluster.allowed(e["db"], e["web"], 8000), "the intended allow does nothing"


def test_pod_selector_peer_is_local_to_the_policy_namespace() -> None:
    ingress = np("db-in", {"podSelector": DB, "ingress": [{"from": [{"podSelector": WEB}]}]})
    cluster, e = world(ingress)
    assert cluster.allowed(e["web"], e["db"], 5432)
    assert not cluster.allowed(e["other"], e["db"], 5432), "same labels, other namespace"


def test_namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or() -> None:
    other_ns = {"matchLabels": {"kubernetes.io/metadata.name": "other"}}
    both = np(
        "and",
        {
            "podSelector": DB,
            "ingress": [{"from": [{"namespaceSelector": other_ns, "podSelector": DB}]}],
        },
    )
    cluster, e = world(both)
    assert not cluster.allowed(e["other"], e["db"], 5432), "other's pod is app=web, not app=db"
    either = np(
        "or",
        {
            "podSelector": DB,
            "ingress": [{"from": [{"namespaceSelector": other_ns}, {"podSelector": DB}]}],
        },
    )
    cluster, e = world(either)
    assert cluster.allowed(e["other"], e["db"], 5432)
    assert not cluster.allowed(e["web"], e["db"], 5432)


def test_empty_peers_and_empty_ports_match_everything() -> None:
    cluster, e = world(DENY_ALL, np("open", {"podSelector": WEB, "ingress": [{}]}))
    assert cluster.allowed(e["other"], e["web"], 8000)
    cluster, e = world(np("none", {"podSelector": WEB, "ingress": []}))
    assert not cluster.allowed(e["other"], e["web"], 8000), "no rules: isolated, nothing allowed"


def test_named_ports_resolve_on_the_destination() -> None:
    ingress = np(
        "web-in",
        {"podSelector": WEB, "ingress": [{"ports": [{"port": "http"}]}]},
    )
    cluster, e = world(ingress)
    assert cluster.allowed(e["db"], e["web"], 8000)
    assert not cluster.allowed(e["db"], e["web"], 8001)
    egress = np(
        "db-out",
        {"podSelector": DB, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]},
    )
    cluster, e = world(egress)
    assert cluster.allowed(e["db"], e["web"], 8000)
    assert not cluster.allowed(e["db"], e["internet"], 443), "a name never matches an address"
    udp = np(
        "udp", {"podSelector": WEB, "ingress": [{"ports": [{"port": "http", "protocol": "UDP"}]}]}
    )
    cluster, e = world(udp)
    assert not cluster.allowed(e["db"], e["web"], 8000), "http is a TCP port"


def test_port_ranges() -> None:
    ranged = np(
        "range", {"podSelector": WEB, "ingress": [{"ports": [{"port": 7000, "endPort": 8000}]}]}
    )
    cluster, e = world(ranged)
    assert cluster.allowed(e["db"], e["web"], 8000)
    assert not cluster.allowed(e["db"], e["web"], 8001)


def test_ip_block_with_except() -> None:
    public = np(
        "public-https",
        {
            "podSelector": WEB,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "ipBlock": {
                                "cidr": "0.0.0.0/0",
                                "except": ["169.254.0.0/16", "10.0.0.0/8"],
                            }
                        }
                    ],
                    "ports": [{"port": 443}],
                }
            ],
        },
    )
    cluster, e = world(public)
    assert cluster.allowed(e["web"], e["internet"], 443)
    assert not cluster.allowed(e["web"], e["internet"], 80)
    assert not cluster.allowed(e["web"], e["metadata"], 80)


def test_reachable_and_compare() -> None:
    ingress = np("db-in", {"podSelector": DB, "ingress": [{"from": [{"podSelector": WEB}]}]})
    cluster, e = world(DENY_ALL, ingress)
    cluster.policies.append(
        np(
            "web-out",
            {
                "podSelector": WEB,
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": DB}]}],
            },
        )
    )
    wanted = {network_policy.Connection(e["web"], e["db"], 5432)}
    assert reachability.compare(cluster, wanted, NS) == ([], [])
    missing, extra = reachability.compare(
        cluster, {network_policy.Connection(e["db"], e["web"], 8000)}, NS
    )
    assert missing == ["db -> web:8000/TCP"]
    assert extra == ["web -> db:5432/TCP"]
    assert reachability.sources_of(cluster, e["db"], 5432) == ["web"]
