from django.conf import settings
from django.core.management.base import BaseCommand

from config.embedded_db import server_status, stop_server


class Command(BaseCommand):
    help = "Status or stop of the embedded PostgreSQL under var/postgres (used when DATABASE_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action: str, **options):
        datadir = settings.EMBEDDED_POSTGRES_DIR
        if action == "status":
            pid = server_status(datadir)
            self.stdout.write(f"running, pid {pid}" if pid else "not running")
        elif stop_server(datadir):
            self.stdout.write("stopped")
        else:
            self.stdout.write("was not running")
