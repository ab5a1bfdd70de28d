"""Test scaffolding for the execution agent: tests, benchmarks and dev setups import it; the
agent never does (tests/execution_agent/test_imports.py checks).

`harness.AgentHarness` runs a real agent in throw-away directories; `web.WebFrontProcesses`
runs nginx and a uWSGI Emperor beside it.
"""
