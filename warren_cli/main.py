"""``warren``: the common operations of Warren's API from a shell.

    warren webapp list | reload DOMAIN | enable DOMAIN | disable DOMAIN
    warren console list | send-input ID TEXT | output ID
    warren files get REMOTE [-o LOCAL] | put LOCAL REMOTE | rm REMOTE | tree [REMOTE]
    warren tasks list
    warren whoami

``--json`` prints the API's answer as JSON instead of lines for people.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote

from warren_cli.client import ApiFailure, Client
from warren_cli.config import ConfigError, load_config


def _remote(path: str) -> str:
    return "files/path/" + quote(path.lstrip("/"), safe="/")


def webapp(client: Client, args) -> tuple[object, str]:
    if args.action == "list":
        apps = client.request("GET", client.user_path("webapps/"))
        lines = [
            f"{a['domain']}\t{'on' if a['enabled'] else 'off'}\t{a['framework']}" for a in apps
        ]
        return apps, "\n".join(lines) or "No web apps."
    if not args.domain:
        raise ApiFailure(f"warren webapp {args.action} needs the web app's domain.")
    domain = quote(args.domain, safe="")
    answer = client.request("POST", client.user_path(f"webapps/{domain}/{args.action}/"))
    if not answer["ok"]:
        tail = f"\n{answer['error_log_tail']}" if answer.get("error_log_tail") else ""
        raise ApiFailure(f"{args.domain}: {answer['detail']}{tail}")
    return answer, f"{args.domain}: {answer['detail']}"


def console(client: Client, args) -> tuple[object, str]:
    if args.action == "list":
        consoles = client.request("GET", client.user_path("consoles/"))
        lines = [f"{c['id']}\t{c['state']}\t{c['title']}" for c in consoles]
        return consoles, "\n".join(lines) or "No consoles."
    if not args.id:
        raise ApiFailure(f"warren console {args.action} needs the console's id.")
    base = client.user_path(f"consoles/{quote(args.id, safe='')}/")
    if args.action == "send-input":
        text = " ".join(args.text)
        if not args.no_newline:
            text += "\n"
        answer = client.request("POST", base + "send_input/", data={"input": text})
        return answer, answer["detail"]
    answer = client.request("GET", base + "get_latest_output/")
    return answer, answer["output"].rstrip("\n")


def files(client: Client, args) -> tuple[object, str]:
    if args.action == "get":
        data = client.request("GET", client.user_path(_remote(args.remote)), binary=True)
        if args.output:
            Path(args.output).write_bytes(data)
            return {"ok": True, "bytes": len(data)}, f"Saved {len(data)} bytes to {args.output}."
        sys.stdout.buffer.write(data)
        return None, ""
    if args.action == "put":
        try:
            data = Path(args.local).read_bytes()
        except OSError as exc:
            raise ApiFailure(f"Cannot read {args.local}: {exc.strerror}.") from None
        answer = client.request("POST", client.user_path(_remote(args.remote)), raw=data)
        return answer, answer["detail"]
    if args.action == "rm":
        answer = client.request("DELETE", client.user_path(_remote(args.remote)))
        return answer, answer["detail"]
    query = f"?path={quote(args.remote)}" if args.remote else ""
    answer = client.request("GET", client.user_path("files/tree/") + query)
    more = "\n(truncated)" if answer["truncated"] else ""
    return answer, "\n".join(answer["entries"]) + more


def tasks(client: Client, args) -> tuple[object, str]:
    found = client.request("GET", client.user_path("schedule/"))
    lines = []
    for task in found:
        when = (
            f"daily {task['hour']:02d}:{task['minute']:02d}"
            if task["interval"] == "daily"
            else f"hourly :{task['minute']:02d}"
        )
        state = "" if task["enabled"] else " (off)"
        lines.append(f"{task['id']}\t{when} UTC{state}\t{task['command']}")
    return found, "\n".join(lines) or "No scheduled tasks."


def whoami(client: Client, args) -> tuple[object, str]:
    answer = client.request("GET", "v1/whoami/")
    return answer, answer["username"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="warren", description="Warren's API from a shell.")
    top.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    commands = top.add_subparsers(dest="command", required=True)

    web = commands.add_parser("webapp", help="web apps")
    web.add_argument("action", choices=["list", "reload", "enable", "disable"])
    web.add_argument("domain", nargs="?")
    web.set_defaults(run=webapp)

    con = commands.add_parser("console", help="consoles")
    con.add_argument("action", choices=["list", "send-input", "output"])
    con.add_argument("id", nargs="?")
    con.add_argument("text", nargs="*", help="what to type (a newline is added)")
    con.add_argument("-n", "--no-newline", action="store_true", help="do not press Enter after")
    con.set_defaults(run=console)

    fil = commands.add_parser("files", help="files in your home")
    fil_actions = fil.add_subparsers(dest="action", required=True)
    get = fil_actions.add_parser("get", help="print or save a file")
    get.add_argument("remote")
    get.add_argument("-o", "--output", help="save to this local file")
    put = fil_actions.add_parser("put", help="upload a local file (replaced atomically)")
    put.add_argument("local")
    put.add_argument("remote")
    rm = fil_actions.add_parser("rm", help="delete a file or folder")
    rm.add_argument("remote")
    tree = fil_actions.add_parser("tree", help="list everything beneath a folder")
    tree.add_argument("remote", nargs="?", default="")
    fil.set_defaults(run=files)

    tas = commands.add_parser("tasks", help="scheduled tasks")
    tas.add_argument("action", choices=["list"])
    tas.set_defaults(run=tasks)

    who = commands.add_parser("whoami", help="the user your token belongs to")
    who.set_defaults(run=whoami)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = Client(load_config())
        answer, text = args.run(client, args)
    except ConfigError as exc:
        print(f"warren: {exc}", file=sys.stderr)
        return 2
    except ApiFailure as exc:
        print(f"warren: {exc}", file=sys.stderr)
        return 1
    if args.json and answer is not None:
        print(json.dumps(answer, indent=2))
    elif text:
        print(text)
    return 0
