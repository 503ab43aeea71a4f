"""Who may do what: a citizen by default; the roles of bot/policy.py (officers, leaders and admins of a
unit, a commune's chairman, the province's admin and overseer, oversight boards' members) are staff."""

STAFF_ROLES = ("officer", "leader", "admin", "chairman", "vice_chairman", "province_admin", "province_overseer",
               "inspection_board", "investment_board")
# Who works a unit's items: told of its new items, offered when an item is assigned.
UNIT_STAFF_ROLES = ("officer", "leader", "admin")
