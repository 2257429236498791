"""Bearer tokens for tests that call the API with authentication on."""

from __future__ import annotations

from .cluster import Cluster


def admin_token(cluster: Cluster) -> str:
    """The token of the cluster's kubeconfig user (`admin`, in system:masters: DIR/tokens.csv), which the
    apiserver's TokenReview accepts and every SubjectAccessReview allows."""
    return (cluster.dir / "tokens.csv").read_text().splitlines()[0].split(",")[0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_headers(cluster: Cluster) -> dict[str, str]:
    """The `Authorization` header of the cluster admin: every request of a test that is not about auth."""
    return bearer(admin_token(cluster))
