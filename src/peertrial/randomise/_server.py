"""``peertrial randomise serve``: the web randomisation service on a ledger.

A Starlette application served by uvicorn (both in the ``peertrial[server]``
extra). One process owns one :class:`~peertrial.randomise.Ledger`; requests run
in uvicorn's thread pool and the ledger serialises them (SQLite ``BEGIN
IMMEDIATE``), so any number of clients never share a slot.

API (``Authorization: Bearer TOKEN``; tokens from ``peertrial randomise user add``):

- ``POST /api/allocate`` ``{"participant": "P001", "strata": {"site": 3, "diagnosis": "psychotic"}}``
  -> ``200 {"participant", "arm", "allocated_at", "receipt"}`` (the same again returns the
  recorded allocation); 401 without a valid token, 403 for a site user at another site or a
  statistician, 422 naming the bad field, 409 when the stratum is full or the id was
  allocated in another stratum.
- ``GET /api/allocations`` (statistician, admin): every allocation.
- ``GET /api/verify[?head=RECEIPT...]`` (statistician, admin): the full keyed check.

Pages (no JavaScript, no external resources): ``/`` sign in with the token, enter the
participant and strata, confirm, see the arm and its receipt; ``/allocations`` for
statisticians. Every request and refusal is appended to the ledger's chained audit
trail (user, role, address, method and path, outcome), never the token.
"""

from __future__ import annotations

import html
import json
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from peertrial.randomise._streams import canonical_label
from peertrial.randomise.ledger import (
    FORMAT,
    Ledger,
    LedgerError,
    LedgerIntegrityError,
    StratumFullError,
    participant_id,
)

__all__ = ["create_app", "serve"]

SESSION_COOKIE = "peertrial_session"
SESSION_SECONDS = 8 * 3600
MAX_BODY = 64 * 1024
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


class _Refusal(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class _Service:
    """The state shared by the routes: the ledger and the page sessions (memory only)."""

    def __init__(self, ledger: Ledger):
        self.led = ledger
        self.sessions: dict[str, dict] = {}
        self._lock = threading.Lock()

    # -- audit trail --------------------------------------------------------------------------
    def record(self, request: Request, user: dict | None, status: int, outcome: str, **extra) -> None:
        detail = {"method": request.method, "path": request.url.path, "remote": _remote(request),
                  "user": user["name"] if user else None, "role": user["role"] if user else None,
                  "status": status, "outcome": outcome[:300], **extra}
        self.led.record(detail)

    # -- authentication -----------------------------------------------------------------------
    def bearer_user(self, request: Request) -> dict:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refusal(401, "missing access token: send 'Authorization: Bearer TOKEN'")
        user = self.led.authenticate(token.strip())
        if user is None:
            raise _Refusal(401, "invalid or revoked access token")
        return user

    def session_user(self, request: Request) -> tuple[dict | None, dict | None]:
        sid = request.cookies.get(SESSION_COOKIE)
        with self._lock:
            session = self.sessions.get(sid) if sid else None
            if session is not None and session["expires"] < time.time():
                self.sessions.pop(sid, None)
                session = None
        if session is None:
            return None, None
        user = self.led.authenticate(session["token"])  # revocation takes effect at once
        if user is None:
            with self._lock:
                self.sessions.pop(sid, None)
            return None, None
        return user, session

    def new_session(self, token: str) -> tuple[str, dict]:
        sid = secrets.token_urlsafe(32)
        session = {"token": token, "csrf": secrets.token_urlsafe(32), "expires": time.time() + SESSION_SECONDS}
        with self._lock:
            if len(self.sessions) > 10_000:
                now = time.time()
                for k in [k for k, v in self.sessions.items() if v["expires"] < now]:
                    del self.sessions[k]
            self.sessions[sid] = session
        return sid, session

    def end_session(self, request: Request) -> None:
        sid = request.cookies.get(SESSION_COOKIE)
        with self._lock:
            self.sessions.pop(sid, None)

    # -- allocation ---------------------------------------------------------------------------
    def check_request(self, user: dict, participant, strata) -> tuple[str, dict]:
        """Validate the fields and the user's right to allocate them (raises _Refusal)."""
        led = self.led
        if participant is None:
            raise _Refusal(422, "field 'participant' is required (the participant's id, as text)", "participant")
        try:
            pid = participant_id(participant)
        except LedgerError as exc:
            raise _Refusal(422, f"field 'participant': {exc}", "participant") from None
        if not isinstance(strata, dict):
            raise _Refusal(422, "field 'strata' must be an object with the stratum factors "
                                f"{led.factors}", "strata")
        clean = {}
        for f in led.factors:
            if f not in strata or strata[f] is None or strata[f] == "":
                raise _Refusal(422, f"field 'strata.{f}' is required; levels: {led.levels[f]}", f"strata.{f}")
            value = strata[f]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _Refusal(422, f"field 'strata.{f}' must be text or a number", f"strata.{f}")
            if canonical_label(value) not in led._level_of[f]:
                raise _Refusal(422, f"field 'strata.{f}': unknown level {value!r}; levels: {led.levels[f]}",
                               f"strata.{f}")
            clean[f] = led._level_of[f][canonical_label(value)]
        extra = [k for k in strata if k not in led.factors]
        if extra:
            raise _Refusal(422, f"field 'strata' has unknown factor(s) {extra}; expected {led.factors}",
                           f"strata.{extra[0]}")
        if user["role"] == "statistician":
            raise _Refusal(403, "statisticians cannot allocate; ask a site user or an admin")
        if user["role"] == "site" and canonical_label(clean.get("site")) != user["site"]:
            raise _Refusal(403, f"user {user['name']!r} may allocate only at site {user['site']}")
        return pid, clean

    def allocate(self, request: Request, user: dict, pid: str, strata: dict) -> dict:
        actor = {"method": request.method, "path": request.url.path, "remote": _remote(request),
                 "user": user["name"], "role": user["role"], "status": 200}
        try:
            rec = self.led._allocate(pid, strata, actor)
        except StratumFullError as exc:
            raise _Refusal(409, str(exc)) from None
        except LedgerIntegrityError:
            raise
        except LedgerError as exc:
            raise _Refusal(409, str(exc)) from None
        return {k: rec[k] for k in ("participant", "arm", "allocated_at", "receipt")}


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def _json(status: int, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_HEADERS)


def _refusal_json(exc: _Refusal) -> JSONResponse:
    body = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    headers = {"WWW-Authenticate": 'Bearer realm="peertrial"'} if exc.status == 401 else {}
    return JSONResponse(body, status_code=exc.status, headers={**_HEADERS, **headers})


async def _read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refusal(413, "request body too large")
    return body


# -- HTML ------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#111}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid #999;margin-bottom:1rem}
label{display:block;font-weight:600;margin-top:1rem}
input,select{font-size:1.1rem;padding:.4rem;width:100%;max-width:24rem;box-sizing:border-box}
button{display:block;font-size:1.1rem;padding:.5rem 1.2rem;margin-top:1.2rem;cursor:pointer}
button.link{display:inline;margin:0;padding:.1rem .5rem;font-size:1rem}
input[readonly]{background:#eee;border:1px solid #999}
nav{margin-bottom:1rem}
:focus{outline:3px solid #1a5fb4;outline-offset:2px}
.error{border:2px solid #a51d2d;background:#fde8e8;padding:.6rem 1rem}
.result{border:2px solid #26a269;background:#e8f7ee;padding:.6rem 1rem}
.arm{font-size:2rem;font-weight:700}
.receipt{font-family:monospace;word-break:break-all}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
.inline{display:inline}
form+form button{margin-top:.6rem}
"""


def _page(title: str, body: str, user: dict | None = None, session: dict | None = None, status: int = 200):
    who = ""
    if user is not None:
        where = f", site {html.escape(str(user['site']))}" if user["site"] else ""
        links = ['<a href="/">Allocate</a>']
        if user["role"] in ("statistician", "admin"):
            links.append('<a href="/allocations">Allocations</a>')
        who = (f'<nav aria-label="account"><span>Signed in as <strong>{html.escape(user["name"])}</strong> '
               f'({html.escape(user["role"])}{where})</span> · {" · ".join(links)} · '
               '<form class="inline" method="post" action="/logout">'
               f'<input type="hidden" name="csrf" value="{html.escape(session["csrf"])}">'
               '<button type="submit" class="link">Sign out</button></form></nav>')
    text = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)} · peertrial randomisation'
            f'</title><style>{_CSS}</style></head><body><header><p><strong>peertrial randomisation</strong></p>'
            f'</header>{who}<main><h1>{html.escape(title)}</h1>{body}</main></body></html>')
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


def _error_box(message: str | None) -> str:
    if not message:
        return ""
    return f'<div class="error" role="alert" id="error"><p>{html.escape(message)}</p></div>'


def _login_page(message: str | None = None, status: int = 200):
    body = (_error_box(message) +
            '<form method="post" action="/login"><label for="token">Access token</label>'
            '<input id="token" name="token" type="password" autocomplete="off" required '
            'aria-describedby="token-help"><p id="token-help">The token you were given when your account was '
            'created. It is never shown or stored in plain text.</p><button type="submit">Sign in</button></form>')
    return _page("Sign in", body, status=status)


def _strata_inputs(led: Ledger, user: dict, values: dict) -> str:
    out = []
    for f in led.factors:
        fid = f"stratum-{html.escape(f)}"
        if f == "site" and user["role"] == "site":
            out.append(f'<label for="{fid}">{html.escape(f.capitalize())}</label>'
                       f'<input id="{fid}" name="{html.escape(f)}" value="{html.escape(str(user["site"]))}" readonly>')
            continue
        chosen = canonical_label(values.get(f, "")) if values.get(f) not in (None, "") else ""
        options = ['<option value="">Choose…</option>'] + [
            f'<option value="{html.escape(canonical_label(v))}"'
            f'{" selected" if canonical_label(v) == chosen else ""}>{html.escape(str(v))}</option>'
            for v in led.levels[f]]
        out.append(f'<label for="{fid}">{html.escape(f.capitalize())}</label>'
                   f'<select id="{fid}" name="{html.escape(f)}" required>{"".join(options)}</select>')
    return "".join(out)


def _form_page(svc: _Service, user, session, values=None, message=None, status=200):
    values = values or {}
    if user["role"] == "statistician":
        body = ('<p>Statisticians cannot allocate participants. See <a href="/allocations">the allocations</a> '
                'and the ledger check.</p>')
        return _page("Allocate a participant", body, user, session, status)
    body = (_error_box(message) +
            '<form method="post" action="/confirm">'
            f'<input type="hidden" name="csrf" value="{html.escape(session["csrf"])}">'
            '<label for="participant">Participant id</label>'
            f'<input id="participant" name="participant" required autocomplete="off" '
            f'value="{html.escape(str(values.get("participant", "")))}" aria-describedby="pid-help">'
            '<p id="pid-help">Exactly as in the trial records (no spaces before or after).</p>'
            + _strata_inputs(svc.led, user, values) +
            '<button type="submit">Continue</button></form>')
    return _page("Allocate a participant", body, user, session, status)


def _confirm_page(svc: _Service, user, session, pid: str, strata: dict):
    rows = "".join(f"<dt>{html.escape(f.capitalize())}</dt><dd>{html.escape(str(v))}</dd>" for f, v in strata.items())
    hidden = "".join(f'<input type="hidden" name="{html.escape(f)}" value="{html.escape(canonical_label(v))}">'
                     for f, v in strata.items())
    body = ('<p>Check the details. Allocation cannot be undone.</p>'
            f'<dl><dt>Participant id</dt><dd>{html.escape(pid)}</dd>{rows}</dl>'
            '<form method="post" action="/allocate">'
            f'<input type="hidden" name="csrf" value="{html.escape(session["csrf"])}">'
            f'<input type="hidden" name="participant" value="{html.escape(pid)}">{hidden}'
            '<button type="submit" id="confirm">Confirm allocation</button></form>'
            '<form method="post" action="/edit">'
            f'<input type="hidden" name="csrf" value="{html.escape(session["csrf"])}">'
            f'<input type="hidden" name="participant" value="{html.escape(pid)}">{hidden}'
            '<button type="submit">Change details</button></form>')
    return _page("Confirm the allocation", body, user, session)


def _result_page(user, session, rec: dict, strata: dict):
    rows = "".join(f"<dt>{html.escape(f.capitalize())}</dt><dd>{html.escape(str(v))}</dd>" for f, v in strata.items())
    body = ('<div class="result" role="status" id="result">'
            f'<p>Participant <strong>{html.escape(rec["participant"])}</strong> is allocated to</p>'
            f'<p class="arm" id="arm">{html.escape(str(rec["arm"]))}</p></div>'
            f'<dl><dt>Participant id</dt><dd>{html.escape(rec["participant"])}</dd>{rows}'
            f'<dt>Allocated at (UTC)</dt><dd>{html.escape(rec["allocated_at"])}</dd>'
            f'<dt>Receipt</dt><dd class="receipt" id="receipt">{html.escape(rec["receipt"])}</dd></dl>'
            '<p>Keep the receipt in the participant\'s record: it proves this allocation is in the ledger, unedited.</p>'
            '<p><a href="/">Allocate another participant</a></p>')
    return _page("Allocation", body, user, session)


# -- the application ----------------------------------------------------------------------------------

def _step(handler, step: str):
    async def endpoint(request: Request):
        return await handler(request, step)

    return endpoint


def create_app(ledger: Ledger) -> Starlette:
    """The Starlette application serving ``ledger`` (which must hold the trial key)."""
    svc = _Service(ledger)

    async def record(request, user, status, outcome, **extra):
        await run_in_threadpool(svc.record, request, user, status, outcome, **extra)

    async def api(request: Request, handler):
        user = None
        try:
            user = await run_in_threadpool(svc.bearer_user, request)
            return await handler(request, user)
        except _Refusal as exc:
            await record(request, user, exc.status, exc.message)
            return _refusal_json(exc)
        except LedgerIntegrityError as exc:
            return _json(500, {"detail": f"the ledger failed its integrity check: {exc}"})

    async def api_allocate(request: Request):
        async def handler(request, user):
            body = await _read_body(request)
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise _Refusal(422, "the body must be a JSON object: {\"participant\": ..., \"strata\": {...}}",
                               "body") from None
            if not isinstance(payload, dict):
                raise _Refusal(422, "the body must be a JSON object", "body")
            unknown = [k for k in payload if k not in ("participant", "strata")]
            if unknown:
                raise _Refusal(422, f"unknown field(s) {unknown}; expected 'participant' and 'strata'", unknown[0])
            pid, strata = svc.check_request(user, payload.get("participant"), payload.get("strata", {}))
            rec = await run_in_threadpool(svc.allocate, request, user, pid, strata)
            return _json(200, rec)

        return await api(request, handler)

    def _reader(user):
        if user["role"] not in ("statistician", "admin"):
            raise _Refusal(403, "only statisticians and admins may read allocations and verify the ledger")

    async def api_allocations(request: Request):
        async def handler(request, user):
            _reader(user)
            audit = await run_in_threadpool(ledger.audit)
            await record(request, user, 200, f"{len(audit)} allocations listed")
            return _json(200, {"allocations": json.loads(audit.to_json(orient="records"))})

        return await api(request, handler)

    async def api_verify(request: Request):
        async def handler(request, user):
            _reader(user)
            heads = request.query_params.getlist("head")
            try:
                await run_in_threadpool(ledger.verify, heads or None)
                head = await run_in_threadpool(ledger.head)
            except LedgerIntegrityError as exc:
                await record(request, user, 200, "verify: FAILED")
                return _json(200, {"ok": False, "detail": str(exc)})
            await record(request, user, 200, "verify: intact", receipts=len(heads))
            return _json(200, {"ok": True, "head": head, "receipts_checked": len(heads)})

        return await api(request, handler)

    # -- pages ---------------------------------------------------------------------------------
    async def form_fields(request: Request) -> dict:
        body = await _read_body(request)
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise _Refusal(422, "the form could not be read") from None
        return {k: v[0] for k, v in parsed.items()}

    async def page_user(request: Request, fields: dict | None = None):
        user, session = await run_in_threadpool(svc.session_user, request)
        if user is None:
            return None, None
        if fields is not None and not secrets.compare_digest(fields.get("csrf", ""), session["csrf"]):
            raise _Refusal(403, "the form has expired; sign in again")
        return user, session

    async def page_index(request: Request):
        user, session = await page_user(request)
        if user is None:
            await record(request, None, 200, "sign-in page")
            return _login_page()
        await record(request, user, 200, "allocation form")
        return _form_page(svc, user, session)

    async def page_login(request: Request):
        try:
            fields = await form_fields(request)
        except _Refusal as exc:
            return _login_page(exc.message, exc.status)
        token = fields.get("token", "").strip()
        user = await run_in_threadpool(ledger.authenticate, token) if token else None
        if user is None:
            await record(request, None, 401, "sign-in refused: invalid or revoked token")
            return _login_page("That token is not valid (or it was revoked).", 401)
        sid, _ = svc.new_session(token)
        await record(request, user, 303, "signed in")
        response = RedirectResponse("/", status_code=303, headers=_HEADERS)
        response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def page_logout(request: Request):
        user, _ = await run_in_threadpool(svc.session_user, request)
        svc.end_session(request)
        await record(request, user, 303, "signed out")
        response = RedirectResponse("/", status_code=303, headers=_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def page_post(request: Request, step: str):
        user = session = None
        try:
            fields = await form_fields(request)
            user, session = await page_user(request, fields)
            if user is None:
                await record(request, None, 401, f"{step}: not signed in")
                return _login_page("Please sign in first.", 401)
            strata = {f: fields.get(f) for f in ledger.factors}
            if step == "edit":
                await record(request, user, 200, "edit details")
                return _form_page(svc, user, session, {"participant": fields.get("participant", ""), **strata})
            pid, clean = svc.check_request(user, fields.get("participant") or None, strata)
            if step == "confirm":
                await record(request, user, 200, "confirmation page", participant=pid)
                return _confirm_page(svc, user, session, pid, clean)
            rec = await run_in_threadpool(svc.allocate, request, user, pid, clean)
            return _result_page(user, session, rec, clean)
        except _Refusal as exc:
            await record(request, user, exc.status, f"{step}: {exc.message}")
            if user is None:
                return _login_page(exc.message, exc.status)
            values = {"participant": fields.get("participant", ""), **{f: fields.get(f) for f in ledger.factors}}
            return _form_page(svc, user, session, values, exc.message, exc.status)
        except LedgerIntegrityError as exc:
            return _page("Ledger problem", _error_box(f"The ledger failed its integrity check: {exc}"), status=500)

    async def page_allocations(request: Request):
        user, session = await page_user(request)
        if user is None:
            await record(request, None, 401, "allocations page: not signed in")
            return _login_page("Please sign in first.", 401)
        if user["role"] not in ("statistician", "admin"):
            await record(request, user, 403, "allocations page refused")
            return _page("Allocations", _error_box("Only statisticians and admins may see the allocations."),
                         user, session, 403)
        audit = await run_in_threadpool(ledger.audit)
        try:
            await run_in_threadpool(ledger.verify)
            status = '<p class="result" role="status">Ledger check: intact (keyed hash chain, schema, slots).</p>'
        except LedgerIntegrityError as exc:
            status = _error_box(f"Ledger check FAILED: {exc}")
        cols = [c for c in audit.columns]
        head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in cols)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
                       for r in audit.itertuples(index=False))
        await record(request, user, 200, f"allocations page: {len(audit)} allocations")
        body = (status + f"<p>{len(audit)} allocations.</p>"
                f'<table><caption>Allocations in order</caption><thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table>")
        return _page("Allocations", body, user, session)

    async def not_found(request: Request, exc):
        await record(request, None, 404, "no such page")
        return Response("not found", status_code=404, headers=_HEADERS)

    async def method_not_allowed(request: Request, exc):
        await record(request, None, 405, "method not allowed")
        return Response("method not allowed", status_code=405, headers=_HEADERS)

    routes = [
        Route("/api/allocate", api_allocate, methods=["POST"]),
        Route("/api/allocations", api_allocations, methods=["GET"]),
        Route("/api/verify", api_verify, methods=["GET"]),
        Route("/", page_index, methods=["GET"]),
        Route("/login", page_login, methods=["POST"]),
        Route("/logout", page_logout, methods=["POST"]),
        Route("/confirm", _step(page_post, "confirm"), methods=["POST"]),
        Route("/edit", _step(page_post, "edit"), methods=["POST"]),
        Route("/allocate", _step(page_post, "allocate"), methods=["POST"]),
        Route("/allocations", page_allocations, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})


def serve(db, host: str = "127.0.0.1", port: int = 8000, key_file=None, proxy_headers: bool = False,
          forwarded_allow_ips: str = "127.0.0.1") -> int:
    """Run the service on uvicorn until interrupted; returns the exit status."""
    import uvicorn

    ledger = Ledger(db, key_file=key_file)
    try:
        if ledger.format != FORMAT:
            raise LedgerError("the web service needs a concealed (second-format) ledger; create a new one")
        if ledger.read_only:
            raise LedgerError(f"{db} is read-only; the service must be able to write allocations")
        ledger.verify()
        if ledger.users().query("revoked.isna()").empty:
            print(f"peertrial: warning: {db} has no active users; add one with "
                  f"`peertrial randomise user add --db {db} --name NAME --role admin`", file=sys.stderr)
        config = uvicorn.Config(create_app(ledger), host=host, port=port, proxy_headers=proxy_headers,
                                forwarded_allow_ips=forwarded_allow_ips, log_level="info",
                                server_header=False, timeout_graceful_shutdown=10)
        uvicorn.Server(config).run()
    finally:
        ledger.close()
    return 0
