from commerce.management.jobcommand import JobCommand
from orders.jobs import SYNC_PENDING_PAYMENTS


class Command(JobCommand):
    spec = SYNC_PENDING_PAYMENTS
