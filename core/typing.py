"""Names for the types services take, so signatures read as what they mean."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    # Who acts: a signed-in staff user (the admin, a command run as a user).
    Actor: TypeAlias = AbstractBaseUser
    # A request's user, who may not be signed in.
    RequestUser: TypeAlias = AbstractBaseUser | AnonymousUser
else:
    Actor = Any
    RequestUser = Any

# Files as a form or a test hands them over: uploaded files, or file objects with a name.
Uploads: TypeAlias = Iterable[Any]
