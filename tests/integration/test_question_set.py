"""The question set (tests/assistant_eval): every question answered through the MCP tools
alone, by the SDK's client against a running platform, matches its gold answer computed
from the raw records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from healthplatform.settings import Settings
from tests.assistant_eval.people import synthetic_files
from tests.assistant_eval.questions import questions
from tests.integration.mcp_client import Assistant, assistant, served_platform
from tests.integration.test_etl import process_all, upload_files
from tests.support import services

pytestmark = pytest.mark.integration


def matches(answer: Any, gold: Any) -> bool:
    if isinstance(gold, str):
        return answer == gold
    return answer is not None and answer == pytest.approx(gold, rel=1e-9, abs=1e-9)


async def test_every_question_is_answered_with_the_gold_answer(
    embedded_settings: Settings, keys: services.KeySet, user: str, samples: list[Path]
) -> None:
    people = {"sample": f"{user}-sample", "synthetic": f"{user}-synthetic"}
    asked = questions(samples[0].parent)
    assert len(asked) >= 50
    assert len({q.id for q in asked}) == len(asked)
    async with served_platform(embedded_settings, keys) as api:
        await upload_files(api, people["sample"], samples)
        await api.opt_in(people["synthetic"])
        for name, data in synthetic_files():
            response = await api.upload(people["synthetic"], name, data)
            assert response.status_code == 202, response.text
        await process_all(api, *people.values())
        base = str(api.http.base_url).rstrip("/")
        wrong = []
        for person, subject in people.items():
            session: Assistant
            async with assistant(base, keys.mint(subject, scope="health:read")) as session:
                for q in (q for q in asked if q.person == person):
                    answer = q.extract(await session.call(q.tool, **q.arguments))
                    if not matches(answer, q.gold):
                        wrong.append(f"{q.id}: {q.text} -> {answer!r}, gold {q.gold!r}")
    assert not wrong, "\n".join(wrong)
