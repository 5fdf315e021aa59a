from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Create the user EMAIL if needed and a logged-in session for them; print its key."""

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, **options):
        user, _ = get_user_model().objects.get_or_create(email=options["email"])
        session = SessionStore()
        session[SESSION_KEY] = user.pk
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        # Without the hash a custom user model's session reads as anonymous.
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        self.stdout.write(session.session_key)
