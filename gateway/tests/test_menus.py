"""The console's menu offers each person the pages their roles can use (pages_kit.MENUS), with no I/O."""

from __future__ import annotations

from gateway.pages_kit import menus_of
from shared.tenancy import DivisionCode, Principal, Role


def _menu(*roles: Role, tenant: str = "620602") -> set[str]:
    p = Principal(subject="t", username="t", tenant=DivisionCode(tenant), roles=frozenset(str(r) for r in roles))
    return {m.path for m in menus_of(p)}


def test_the_head_is_offered_the_units_lists_and_not_the_supervisors_cards():
    """电子监察's cards are read by the supervisor only (supervision refused the head the page the menu offered)."""
    head = _menu(Role.HEAD)
    assert {"/console/window/today", "/console/queue", "/console/cashier", "/console/complaints"} <= head
    assert "/console/supervision" not in head
    assert "/console/supervision" in _menu(Role.SUPERVISOR)


def test_the_province_only_page_is_a_provinces_and_a_role_without_a_page_has_no_menu():
    assert "/console/onboarding" in _menu(Role.TENANT_ADMIN, tenant="62")
    assert "/console/onboarding" not in _menu(Role.TENANT_ADMIN)
    assert _menu(Role.SERVICE) == set()


def test_the_case_page_admits_whom_approval_lets_read_a_case():
    from gateway.pages_office import CASE_READERS
    from services.approval.domain import STAFF_ROLES

    assert set(CASE_READERS) == set(STAFF_ROLES)


def test_the_window_s_intake_is_offered_to_the_window_clerk_and_its_list_to_the_chief_representative():
    """综合受理 takes applications in, which intake lets the window clerk alone do; the chief representative reads
    the window's list (and confirms its refusals) with or without that role."""
    assert "/console/window" in _menu(Role.WINDOW_CLERK)
    chief = _menu(Role.CHIEF_REPRESENTATIVE)
    assert "/console/window" not in chief and "/console/window/today" in chief
    assert "/console/window" in _menu(Role.CHIEF_REPRESENTATIVE, Role.WINDOW_CLERK)
