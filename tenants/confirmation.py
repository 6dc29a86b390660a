"""A typed confirmation of an action that overwrites or removes a site: its name, exactly."""

TENANTS_NAME = "the tenant's name"


def confirmation_problem(typed: str, name: str, *, what: str = TENANTS_NAME) -> str:
    """Why what was typed doesn't confirm, in a sentence; "" when it is the name. Only spaces
    around it (a paste's) are forgiven: the name in capitals is not the name, slugs being
    lower-case, and a confirmation is worth only as much as its care."""
    typed = (typed or "").strip()
    if typed == name:
        return ""
    if typed.lower() == name.lower():
        return f"Type {what}, {name}, exactly as shown, in lower-case letters, to confirm."
    return f"Type {what}, {name}, to confirm."
