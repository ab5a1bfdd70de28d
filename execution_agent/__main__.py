"""`python -m execution_agent`: run the agent in the foreground."""

from execution_agent.server import main

if __name__ == "__main__":
    raise SystemExit(main())
