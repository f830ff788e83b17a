"""Background jobs of the portal (Celery): the request and link forms, matched after the answer."""

from __future__ import annotations

from celery import shared_task


def _link_limit(case) -> bool:
    from portal import limits

    return limits.allowed("link_case", str(case.pk))


@shared_task(name="cases.portal_submission", ignore_result=True)
def handle_portal_submission(submission_id: int) -> bool:
    from portal.submissions import handle_submission

    return handle_submission(submission_id, allowed=_link_limit)


@shared_task(name="cases.portal_submissions_left_over", ignore_result=True)
def handle_left_over_submissions() -> int:
    from portal.submissions import handle_left_over

    return handle_left_over(allowed=_link_limit)
