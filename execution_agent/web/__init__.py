"""The execution agent's web role: users' WSGI apps under a uWSGI Emperor behind nginx.

`server.WebServer` (held on the Agent as `agent.web`) is what ops/web.py calls; it validates
with `spec`, renders with `render` (from `templates/`), writes into `layout`, tests nginx
blocks with `nginx`, reads logs with `logs` and waits for the reloaded app with `check`.
`memory_guard` runs in the agent; `run` (`python -m execution_agent.web.run`) starts nginx and
the Emperor beside it.
"""
