from commerce.management.jobcommand import JobCommand
from orders.jobs import PAYMENT_CLEANUP


class Command(JobCommand):
    spec = PAYMENT_CLEANUP
