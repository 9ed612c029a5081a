"""The roles of an installation's team members, from most to least trusted.

A role may do everything the roles below it may:

- ``viewer`` reads workflows, executions, the node catalog, files, variables, and the
  names of credentials; it runs nothing and changes nothing.
- ``editor`` builds, saves, runs and activates workflows, and manages credentials and
  variables.
- ``admin`` manages the team (invites, roles, disabling) and the runtime settings.
- ``owner`` is an admin whom nobody can disable or demote; there is exactly one, and only
  the owner can hand the role over (becoming an admin).

Here, in ``tav.core``, so that every layer that checks a role (the API, the use cases,
the collaboration rooms) compares them the same way; with ``UserRef``, how records name
the member who made them (a saved version, a started execution).
"""

from __future__ import annotations

from enum import StrEnum

from tav.core.model import Model


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    editor = "editor"
    viewer = "viewer"

    def at_least(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return _RANK[self] >= _RANK[other]

    @property
    def can_edit(self) -> bool:
        """Build, save and run workflows (editor and above)."""
        return self.at_least(Role.editor)

    @property
    def manages_users(self) -> bool:
        """Invite, change roles, disable (admin and above)."""
        return self.at_least(Role.admin)


_RANK = {Role.viewer: 0, Role.editor: 1, Role.admin: 2, Role.owner: 3}


class UserRef(Model):
    """The member who did something, as records show them."""

    id: str
    email: str
