"""What accounts tells other apps, for what they keep outside Warren's database.

Both are sent by accounts.services once the transaction commits, with ``user_id`` (an id, so
receivers enqueue tasks that read the user afresh). Receivers connect in their app's
``AppConfig.ready()``; each is listed here, so a reader can find them from the sender.
"""

from django.dispatch import Signal

# A new user was provisioned (user_provision).
# Receivers:
# - files.apps: files.tasks.home_create_enqueue (the home and web directory on the file server)
user_provisioned = Signal()

# A user's limits changed (plan_change, custom_limits_set, custom_limits_clear).
# Receivers:
# - files.apps: files.tasks.storage_quota_apply_enqueue (the disk quota on the file server)
# - databases.apps: databases.tasks.postgres_access_sync_enqueue (NOLOGIN or LOGIN again when
#   the PostgreSQL add-on leaves or returns)
# - schedules.apps: schedules.tasks.tasks_expiry_follow_plan_enqueue (free tasks expire)
# CPU weight needs no receiver: every spawn carries the weight of the moment
# (servers.agents.sandbox_limits), and servers.tasks.account_cpu sends changed weights to
# running cgroups every minute.
limits_changed = Signal()
