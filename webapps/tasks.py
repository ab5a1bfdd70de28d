"""The Web tab's Celery tasks: ACME certificates, issued and renewed on the web server's queue
(its execution agent publishes the HTTP-01 answers), and beat's hourly renewal run."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True, time_limit=300)
def certificate_issue_task(certificate_id: int) -> None:
    """On the web server's exec.<hostname> queue: issue or renew one ACME certificate."""
    from webapps.https import certificate_issue

    certificate_issue(certificate_id=certificate_id)


@shared_task(acks_late=True, ignore_result=True)
def certificates_renew_due() -> int:
    """Beat, hourly: queue the certificates due for renewal or another try."""
    from webapps.https import certificates_renew_due as renew

    return renew()
