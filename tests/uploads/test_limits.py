"""One copy of a file per case, a bounded number of files per case, and the constraint behind both."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from cases.evidence import evidence_add
from cases.models import CaseEvent, Evidence
from core.errors import CaseActionError
from tests.cases import open_case
from tests.conftest import race
from tests.uploads import corpus

pytestmark = pytest.mark.usefixtures("media")


def shot(colour=(10, 20, 30)) -> SimpleUploadedFile:
    """A screenshot; a different corner pixel makes a different file."""
    image = corpus.marked()
    image.putpixel((39, 19), colour)
    return SimpleUploadedFile("s.png", corpus.save(image, "PNG"), content_type="")


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()]


def test_it_keeps_the_same_file_sent_twice_once(s0, media):
    case = open_case(s0)
    first = evidence_add(case=case, kind="screenshot", upload=shot(), from_customer=True)

    again = evidence_add(case=case, kind="screenshot", upload=shot(), from_customer=True)

    assert again.pk == first.pk
    assert Evidence.objects.filter(case=case).count() == 1
    assert case.events.filter(kind=CaseEvent.Kind.EVIDENCE).count() == 1
    assert len(stored_files(media)) == 2  # the file and its thumbnail, once


def test_it_stores_the_same_file_on_two_cases(s0):
    one, two = open_case(s0), open_case(s0)

    evidence_add(case=one, kind="screenshot", upload=shot(), from_customer=True)
    evidence_add(case=two, kind="screenshot", upload=shot(), from_customer=True)

    assert Evidence.objects.count() == 2


def test_it_has_a_database_constraint_behind_the_check(s0):
    case = open_case(s0)
    kept = evidence_add(case=case, kind="screenshot", upload=shot(), from_customer=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        Evidence.objects.create(case=case, kind="screenshot", file="evidence/x.png", sha256=kept.sha256)
    # Pasted text has no hash, and any number of texts may be on a case.
    evidence_add(case=case, kind="error_message", text="Error 1", from_customer=True)
    evidence_add(case=case, kind="error_message", text="Error 2", from_customer=True)


def test_it_refuses_a_file_past_the_case_limit_but_still_takes_text(s0, media, settings):
    settings.EVIDENCE_MAX_FILES_PER_CASE = 3
    case = open_case(s0)
    for n in range(3):
        evidence_add(case=case, kind="screenshot", upload=shot((n, n, n)), from_customer=True)
    files_before = len(stored_files(media))

    with pytest.raises(CaseActionError) as caught:
        evidence_add(case=case, kind="screenshot", upload=shot((9, 9, 9)), from_customer=True)

    assert f"Case {case.number} already has 3 files" in caught.value.message
    assert Evidence.objects.filter(case=case).count() == 3
    assert len(stored_files(media)) == files_before
    evidence_add(case=case, kind="error_message", text="Still broken", from_customer=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_stores_one_copy_when_the_same_file_arrives_several_times_at_once(s0, media):
    case = open_case(s0)
    content = corpus.save(corpus.marked(), "PNG")

    done, refused = race(lambda i: evidence_add(case=case, kind="screenshot", from_customer=True,
                                                upload=SimpleUploadedFile("s.png", content, content_type="")))

    assert refused == []
    assert len({evidence.pk for evidence in done}) == 1
    assert Evidence.objects.filter(case=case).count() == 1
    assert len(stored_files(media)) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_never_passes_the_case_limit_under_concurrent_uploads(s0, media, settings):
    settings.EVIDENCE_MAX_FILES_PER_CASE = 2
    case = open_case(s0)

    done, refused = race(lambda i: evidence_add(case=case, kind="screenshot", upload=shot((i, 0, 0)),
                                                from_customer=True))

    assert len(done) == 2 and len(refused) == 6
    assert Evidence.objects.filter(case=case).count() == 2
    assert len(stored_files(media)) == 4
