from forums import services
from forums.models import Topic


def open_topic(author, category, *, capture, title="How do I X?", body="Hello there") -> Topic:
    with capture(execute=True):
        topic = services.topic_create(
            author=author,
            category=category,
            title=title,
            body=body,
            ip="192.0.2.7",
            user_agent="pytest",
        )
    topic.refresh_from_db()
    return topic


def reply_to(topic, author, *, capture, body="Me too"):
    with capture(execute=True):
        post = services.reply_create(
            author=author, topic=topic, body=body, ip="192.0.2.8", user_agent="pytest"
        )
    post.refresh_from_db()
    return post
