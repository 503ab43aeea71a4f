"""Who may do what: a citizen by default; officers, leaders and admins of a unit are staff."""

STAFF_ROLES = ("officer", "leader", "admin")
LEADER_ROLES = ("leader", "admin")  # may publish and may reveal a denouncer's identity, with a reason
