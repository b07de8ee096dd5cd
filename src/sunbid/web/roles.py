"""What each role does on the platform (SPEC §0), shown on a signed-in user's home page.

Plain descriptions, not data: later features replace each list with the user's real work (projects, bids,
assignments, warnings). Strings are English msgids marked for translation; pages translate them when shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sunbid.identity.domain import Role
from sunbid.web.i18n import N_


@dataclass(frozen=True)
class RoleHome:
    """The part of the home page for one role: a one-line summary and the tasks of the role."""

    role: Role
    summary: str
    duties: tuple[str, ...]


ROLE_HOMES: dict[Role, RoleHome] = {
    r.role: r
    for r in (
        RoleHome(
            Role.TENDERER,
            N_("You own projects and take the decisions the law leaves to the tenderer."),
            (
                N_("Register projects and their sections"),
                N_("Approve the tender documents prepared by your agency"),
                N_("Confirm the winning bidder after evaluation"),
                N_("Sign the contract online"),
            ),
        ),
        RoleHome(
            Role.AGENCY,
            N_("You run tender procedures on behalf of tenderers."),
            (
                N_("Prepare and publish tender announcements and documents"),
                N_("Answer bidders' questions and publish clarifications"),
                N_("Book the opening and evaluation rooms and request the expert draw"),
                N_("Publish the candidates and the award"),
            ),
        ),
        RoleHome(
            Role.BIDDER,
            N_("You take part in tenders as a bidder or supplier."),
            (
                N_("Download tender documents and ask questions"),
                N_("Seal your bid on your own computer and upload it before the deadline"),
                N_("Decrypt your bid at the remote opening with your certificate"),
                N_("Raise objections and sign the contract"),
            ),
        ),
        RoleHome(
            Role.EXPERT,
            N_("You evaluate bids when you are drawn from the expert pool."),
            (
                N_("Receive and answer draw notifications"),
                N_("Sign in to the evaluation of the projects you are assigned to"),
                N_("Score the bids and sign the evaluation report"),
                N_("See your evaluation fees"),
            ),
        ),
        RoleHome(
            Role.OPERATOR,
            N_("You work for the trading centre and witness every step."),
            (
                N_("Accept projects and book venues"),
                N_("Run the bid opening and the expert draw"),
                N_("Witness each step of the procedure"),
                N_("Manage organisations, users and certificates"),
            ),
        ),
        RoleHome(
            Role.REGULATOR,
            N_("You supervise the tenders of your sector and region online."),
            (
                N_("Watch procedures of your sector live"),
                N_("Handle warnings, complaints and inspections"),
                N_("Keep the credit records of market participants"),
            ),
        ),
        RoleHome(
            Role.CUSTODIAN,
            N_("You hold one share of the backup opening key."),
            (
                N_("Take part in recovering a bid when a bidder cannot decrypt it"),
                N_("Every use of your share is recorded in the transparency log"),
            ),
        ),
        RoleHome(
            Role.ADMIN,
            N_("You administer your organisation's accounts on the platform."),
            (
                N_("Manage the users of your organisation and their roles"),
                N_("Manage API tokens and certificates"),
            ),
        ),
        RoleHome(
            Role.PUBLIC,
            N_("You read the public information of the trading centre."),
            (N_("Read announcements, results and statistics"),),
        ),
    )
}


def role_homes(roles: frozenset[Role]) -> list[RoleHome]:
    """The home-page sections of ``roles``, in the order of SPEC §0."""
    return [ROLE_HOMES[r] for r in Role if r in roles and r in ROLE_HOMES]
