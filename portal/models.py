"""The portal project's own rows: which account mails went out."""

from django.db import models


class AccountMailSent(models.Model):
    """An account mail (password reset, e-mail confirmation) the mail server took, by the key it
    was queued with: a redelivered task whose key is here sends nothing. Holds no part of the
    mail: its body carries a reset link."""

    # Drawn when the page queued the mail (portal.accountmail.queue); random, it tells nothing.
    key = models.UUIDField(unique=True)
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"account mail {self.key}"
