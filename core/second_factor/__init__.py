"""Staff's second factor: an authenticator app (TOTP) and backup codes, through django-otp.

``gate`` decides what a session owes before an admin page opens, ``devices`` writes the devices,
``views`` are the admin's pages for them (docs/two-factor.md, docs/decisions/0051).
"""
