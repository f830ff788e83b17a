"""Every URL the admin site serves, opened by every role with GET and a forged POST.

What a role may do comes from its Django permissions: for a registered model's own pages the
model's view/add/change/delete permissions, narrowed by what its admin allows even a superuser;
for the site's other pages the rules in ``backoffice/admin_pages.py``. Anonymous and inactive users
end at the login page. A POST by a role that may not write changes nothing in the database. A new
admin page is walked here without a new test, and fails it until it has a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, reverse
from django.views.generic import RedirectView

from backoffice.admin_pages import PAGES, AdminPage, Needs
from tests.admin.admin_world import ROLES, World, build_world

BACKEND = "backoffice.auth_backend.ModelBackendOneQuery"
MODEL_PAGES = ("changelist", "add", "change", "delete", "history")
LOGIN = reverse("admin:login")
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


@dataclass(frozen=True)
class Url:
    route: str  # as the resolver has it, with the admin's prefix
    name: str | None
    model: type | None  # the registered model whose admin serves it
    redirect: bool  # Django's old "<id>/" address of a change page


def admin_urls() -> list[Url]:
    """The site's patterns, read from its resolver: the site's own, then each model admin's."""
    found = []
    for entry in admin.site.get_urls():
        if isinstance(entry, URLResolver):
            app_label, model_name = str(entry.pattern).strip("/").split("/")
            model = apps.get_model(app_label, model_name)
            found += [_url(str(entry.pattern) + str(p.pattern), p, model) for p in entry.url_patterns]
        else:
            found.append(_url(str(entry.pattern), entry, None))
    return found


def _url(route: str, pattern: URLPattern, model) -> Url:
    redirect = getattr(pattern.callback, "view_class", None) is RedirectView
    return Url(route=route, name=pattern.name, model=model, redirect=redirect)


def sample(parameter: str, url: Url, world: World) -> str:
    """A value that opens a real row for each of the URL's parameters."""
    if parameter in ("object_id", "pk", "id") and url.model is not None:
        return str(world.rows[url.model].pk)
    values = {
        "name": "start_fix", "message_id": world.message.pk, "evidence_id": world.evidence.pk,
        "draft_id": world.draft.pk, "run_id": world.backtest.pk, "job_id": world.export.pk,
        "app_label": "cases", "url": "no/such/page/", "content_type_id": 1, "object_id": world.case.pk,
        "user_id": world.users["agent"].pk,
    }
    if parameter not in values:
        pytest.fail(f"{url.route}: give a sample value for <{parameter}> in this test")
    return str(values[parameter])


def path_of(url: Url, world: World) -> str:
    route = url.route.lstrip("^").rstrip("$")
    path = PARAMETER.sub(lambda m: sample(m.group(1) or m.group(2), url, world), route)
    query = "?app_label=cases&model_name=refundcase&field_name=order" if url.name == "autocomplete" else ""
    return "/admin/" + path + query


def holds(user, needs: Needs) -> bool:
    if needs.anyone:
        return True
    if needs.nobody or user is None or not user.is_active:
        return False
    return all(user.has_perm(p) for p in needs.permissions)


def model_page(url: Url, world: World, method: str) -> tuple[str, object]:
    """(page kind, a function of the user: (answered, may write)) for one of a model's own pages."""
    model_admin = admin.site._registry[url.model]
    kind = url.name.rsplit("_", 1)[1]
    assert kind in MODEL_PAGES, f"{url.name}: a model admin page without a rule in backoffice/admin_pages.py"
    obj = None if kind in ("changelist", "add") else world.rows[url.model]
    request = RequestFactory().get("/")
    request.user = world.users["superuser"]  # what the admin allows at all: it may narrow, never widen
    opts = url.model._meta
    allows = {
        "view": model_admin.has_view_or_change_permission(request, obj),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_change_permission(request, obj),
        "delete": model_admin.has_delete_permission(request, obj),
    }

    def may(user, action: str) -> bool:
        if user is None or not user.is_active or not allows[action]:
            return False
        actions = ("view", "change") if action == "view" else (action,)
        return any(user.has_perm(f"{opts.app_label}.{get_permission_codename(a, opts)}") for a in actions)

    def answer(user) -> tuple[bool, bool]:
        if kind == "changelist":  # the forged POST is the bulk delete action
            return may(user, "view"), may(user, "delete")
        if kind in ("add", "delete"):
            return may(user, kind), may(user, kind)
        if kind == "change" and method == "POST":
            return may(user, "change"), may(user, "change")
        return may(user, "view"), False

    return kind, answer


def forged_post(kind: str, url: Url, world: World) -> dict:
    if kind == "changelist":
        return {"action": "delete_selected", "_selected_action": [world.rows[url.model].pk], "post": "yes",
                "index": "0"}
    if kind == "delete":
        return {"post": "yes"}
    if url.name == "cases_refundcase_export":
        return {"format": "csv"}
    return {"_save": "Save"}


def expected(url: Url, world: World, role: str, method: str) -> tuple[str, bool, dict]:
    """(the answer a role should get, whether its POST may write, the data to post)."""
    user = world.users[role]
    if url.model is not None and url.name not in PAGES:
        kind, answer = model_page(url, world, method)
        answered, writes = answer(user)
        rule = AdminPage(Needs())
        data = forged_post(kind, url, world)
    elif url.name == "app_list":
        answered = user is not None and user.is_active and user.has_module_perms("cases")
        writes, rule, data = False, AdminPage(Needs()), {}
    elif url.name is None:  # Django's catch-all: no page behind any other address
        answered, writes, rule, data = False, False, AdminPage(Needs()), {}
    else:
        assert url.name in PAGES, f"{url.route} ({url.name}): declare who it answers in backoffice/admin_pages.py"
        rule = PAGES[url.name]
        answered, writes = holds(user, rule.answers), holds(user, rule.writes)
        data = forged_post("", url, world)
    if (user is None or not user.is_active) and not rule.answers.anyone:
        return "login", False, data
    if method not in rule.methods:
        return "method not allowed", False, data
    return ("answered" if answered else "refused"), writes, data


def answer_of(client: Client, response, *, logged_in: bool) -> str:
    hops = 0
    # Someone logged out may be sent on (the old address of a page, the logout page) before the login.
    while response.status_code in (301, 302) and hops < 3:
        if response["Location"].startswith(LOGIN):
            return "login"
        if logged_in:
            break
        response, hops = client.get(response["Location"]), hops + 1
    if response.status_code == 500:
        return "a server error"
    if response.status_code == 405:
        return "method not allowed"
    return "refused" if response.status_code in (403, 404) else "answered"


class Writes:
    """The statements that change stored data, sessions aside (a refusal may leave a message in one)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        words = sql.lstrip().split(None, 3)
        if words and words[0].upper() in WRITES and "django_session" not in sql[:80]:
            self.seen.append(sql[:80])
        return execute(sql, params, many, context)


def client_as(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def world(s0, s1, media, settings) -> World:
    # Sessions in the cookie: what is walked here is the same, and reading each from the table was a third of the time.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    return build_world(s0, s1)


def test_it_answers_every_admin_url_as_each_roles_permissions_say(world):
    problems = []
    urls = admin_urls()
    assert len(urls) > 100 and {u.name for u in urls} >= {"policies_policydraft_delete", "index"}
    for role in ROLES:
        user = world.users[role]
        client = client_as(user)
        logged_in = user is not None and user.is_active
        for url in urls:
            path = path_of(url, world)
            if url.redirect:  # the old address of a change page only points to the new one
                response = client.get(path)
                if not logged_in:
                    assert answer_of(client, response, logged_in=False) == "login", path
                else:
                    assert response["Location"].endswith(path + "change/"), path
                continue
            for method in ("GET", "POST"):
                want, may_write, data = expected(url, world, role, method)
                writes = Writes()
                with transaction.atomic(), connection.execute_wrapper(writes):
                    response = client.post(path, data) if method == "POST" else client.get(path)
                    got = answer_of(client, response, logged_in=logged_in)
                    transaction.set_rollback(True)  # each request starts from the same rows
                changed = method == "POST" and not may_write and writes.seen
                if got != want or changed:
                    problems.append(f"{role} {method} {path}: {got}, expected {want}"
                                    + (f" and it wrote to the database: {writes.seen[0]}" if changed else ""))
                if logged_in and "_auth_user_id" not in client.session:
                    client.force_login(user, backend=BACKEND)  # after the logout page
    assert problems == [], "\n".join(problems)


def test_it_never_lets_an_admin_allow_more_than_the_users_permissions(world):
    """A has_*_permission override may narrow the user's permissions, never ignore them."""
    problems = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        for role in ROLES[1:]:
            request = RequestFactory().get("/")
            request.user = world.users[role]
            for obj in (None, world.rows[model]):
                for action in ("view", "add", "change", "delete"):
                    granted = (model_admin.has_add_permission(request) if action == "add"
                               else getattr(model_admin, f"has_{action}_permission")(request, obj))
                    held = ("view", "change") if action == "view" else (action,)
                    if granted and not any(request.user.has_perm(f"{opts.app_label}.{get_permission_codename(a, opts)}")
                                           for a in held):
                        problems.append(f"{opts.label} lets {role} {action} without the permission")
    assert problems == [], "\n".join(sorted(set(problems)))
