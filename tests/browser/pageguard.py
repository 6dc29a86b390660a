"""Collects every CSP violation, console error and uncaught script error of a browser context."""

# Runs before the page's own scripts (Playwright's init scripts are not subject to the page's CSP)
# and reports each violation with what was blocked and which directive blocked it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__portalCspViolation(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


class PageGuard:
    """Watches contexts; `problems` lists what went wrong, one sentence each."""

    def __init__(self):
        self.problems: list[str] = []

    def watch(self, context) -> None:
        context.expose_function(
            "__portalCspViolation", lambda text: self.problems.append(f"CSP violation: {text}")
        )
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        context.on("weberror", self._weberror)

    def _console(self, message) -> None:
        # Chromium also logs refused inline code and failed loads (404s) as console errors.
        if message.type != "error":
            return
        where = message.page.url if message.page else "?"
        # A form sent back with its errors answers 400 on purpose; that status is the page's own
        # (the tests check it), while a file or fetch the page asked for failing is a problem.
        if (
            message.text.startswith("Failed to load resource")
            and message.location.get("url") == where
        ):
            return
        self.problems.append(f"console error on {where}: {message.text}")

    def _weberror(self, error) -> None:
        where = error.page.url if error.page else "?"
        self.problems.append(f"uncaught error on {where}: {error.error.message}")

    def take(self) -> list[str]:
        """The problems so far, forgotten once read (for tests that cause them on purpose)."""
        problems, self.problems = self.problems, []
        return problems
