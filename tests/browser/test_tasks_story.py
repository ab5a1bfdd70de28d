"""Alice adds a daily task that writes a file, runs it now, reads its log and sees it running."""

import time

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from schedules import services
from schedules.models import ScheduledTask, TaskRun
from tests.browser.helpers import fill, log_in_as, submit, wait_for, wait_for_text
from tests.factories import person

pytestmark = [pytest.mark.browser, pytest.mark.root]


def test_add_a_daily_task_run_it_now_read_its_log_and_see_it_on_processes(
    site, browser, provisioned, exec_agent
):
    alice = provisioned(person("alice"))
    log_in_as(browser, site, alice)

    # On the Tasks tab she adds a daily task at 03:00 UTC that writes a file.
    browser.get(site.url + "/tasks/")
    wait_for_text(browser, "Scheduled tasks")
    fill(browser, "command", "echo written > ~/from-task.txt; echo story-output; sleep 6")
    fill(browser, "hour", "3")
    fill(browser, "minute", "0")
    fill(browser, "description", "story task")
    submit(browser, "Add task")
    wait_for_text(browser, "Task added.")
    assert "Daily at 03:00 UTC" in browser.page_source
    task = ScheduledTask.objects.get(owner=alice)

    # Run now: while it runs, the Processes page names it after her description.
    submit(browser, "Run now")
    wait_for_text(browser, "Started.")

    def named(b):
        b.get(site.url + "/servers/processes/")
        return "Task: story task" in (b.execute_script("return document.body.innerText") or "")

    wait_for(browser, named, 15)

    # Beat's collection records the finished run (the test plays beat here).
    deadline = time.monotonic() + 30
    while not TaskRun.objects.filter(task=task, state=TaskRun.State.DONE).exists():
        assert time.monotonic() < deadline, list(TaskRun.objects.values())
        services.task_results_record(server=task.server, now=timezone.now())
        time.sleep(0.3)
    assert (exec_agent.homes / "alice" / "from-task.txt").read_text() == "written\n"

    # The Tasks tab shows the run; its Log link opens the log in the editor.
    browser.get(site.url + "/tasks/")
    wait_for_text(browser, "Finished, exit 0")
    browser.find_element(By.LINK_TEXT, "Log").click()
    wait_for(browser, lambda b: "story-output" in b.page_source, 15)
    assert "exit status 0, CPU" in browser.page_source
    assert f"task-{task.pk}.log" in browser.current_url
