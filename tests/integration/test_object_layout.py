"""Every object the platform writes about a person lies under one of their
``storage.layout.person_prefixes``, and erasing them leaves none behind: a new per-person
prefix that erasure would miss fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthplatform.core.identity import user_key
from healthplatform.runtime import Resources
from healthplatform.storage.layout import (
    ERASURE_LOG_PREFIX,
    PERSON_ROOTS,
    person_prefixes,
)
from tests.conftest import ApiClient
from tests.integration.test_etl import process_all, upload_files

pytestmark = pytest.mark.integration


async def _theirs(res: Resources, key: str) -> list[str]:
    return sorted([o.key async for o in res.store.list("") if key in o.key])


async def test_a_persons_objects_stay_under_their_prefixes(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    key = user_key(user)
    await upload_files(api, user, samples[:6])  # opted in: training examples are written too
    await process_all(api, user)

    written = await _theirs(res, key)
    prefixes = person_prefixes(key)
    assert [k for k in written if not k.startswith(prefixes)] == []
    assert {k.split("/")[0] for k in written} == set(PERSON_ROOTS)  # each root is used

    erased = await api.http.delete("/v1/me/data", headers=api.auth(user))
    assert erased.status_code == 200, erased.text
    assert erased.json()["objects_deleted"] == len(written)
    # only the erasure log remains: it names who was erased, on purpose
    assert [k for k in await _theirs(res, key) if not k.startswith(ERASURE_LOG_PREFIX)] == []
