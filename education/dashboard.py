"""Education's panels on the Account tab (see accounts.dashboard)."""

from accounts.dashboard import Card
from education import selectors


def teacher_card(request) -> Card:
    """Account tab: the student's teacher (name, change, remove), what a teacher may do, and
    what the teacher did; a teacher sees how many students they have."""
    user = request.user
    context = {
        "link": selectors.current_teacher_link(student=user),
        "actions": selectors.teacher_actions_for(student=user),
        "student_count": selectors.student_links_of(teacher=user).count(),
    }
    return Card("education/cards/teacher.html", context, wide=True)
