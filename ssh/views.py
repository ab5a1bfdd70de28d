"""The Account tab's SSH keys (add, delete) and the gateway's signed key lookup.

Thin: parse, call one service or selector, answer. A key is its owner's alone (account
settings are owner-only, teachers included): anyone else's key id is a 404.
"""

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import AppError, error_response
from fileserver_agent.signing import ReplayGuard, SignatureError, verify_request
from ssh import selectors, services

logger = logging.getLogger(__name__)
_replays = ReplayGuard()
MAX_LOOKUP_BYTES = 32 * 1024


@require_POST
def keys_add(request):
    try:
        added = services.ssh_keys_add(user=request.user, text=request.POST.get("keys", ""))
    except AppError as problem:
        return error_response(request, problem, "account")
    names = ", ".join(key.fingerprint for key in added)
    messages.success(request, f"SSH key{'s' if len(added) > 1 else ''} added: {names}.")
    return redirect("account")


@require_POST
def key_delete(request, pk: int):
    key = selectors.ssh_keys_of(user=request.user).filter(pk=pk).first()
    if key is None:
        raise Http404("No such key")
    services.ssh_key_delete(key=key)
    messages.success(request, f"SSH key {key.fingerprint} deleted: it no longer logs in.")
    return redirect("account")


@login_not_required
@csrf_exempt
@require_POST
def lookup(request):
    """The gateway's question (ssh_gateway/keys.py), HMAC-signed: whose key is this?"""
    body = request.body[: MAX_LOOKUP_BYTES + 1]
    if len(body) > MAX_LOOKUP_BYTES:
        return JsonResponse({"error": "too large"}, status=413)
    try:
        verify_request(
            secrets=settings.WARREN_SSH_SECRETS,
            method="POST",
            path=request.path,
            timestamp_header=request.headers.get("X-Warren-Timestamp"),
            signature_header=request.headers.get("X-Warren-Signature"),
            body=body,
            replay_guard=_replays,
        )
    except SignatureError as exc:
        logger.warning("ssh key lookup refused: %s", exc.code)
        return JsonResponse({"error": exc.code}, status=403)
    try:
        question = json.loads(body)
        key_type, key_data = question["type"], question["key"]
        if not isinstance(key_type, str) or not isinstance(key_data, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "expected {type, key}"}, status=400)
    answer = selectors.ssh_login_for(key_type=key_type, key_data=key_data)
    if answer is None:
        return JsonResponse({"error": "unknown key"}, status=404)
    return JsonResponse(answer)
