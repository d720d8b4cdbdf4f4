from commerce.management.jobcommand import JobCommand
from orders.jobs import REAUTHORIZE_PAYMENTS


class Command(JobCommand):
    spec = REAUTHORIZE_PAYMENTS
