"""``warren``: Warren's HTTP API from a shell (standard library only, no Django)."""
