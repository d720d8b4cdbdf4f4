from commerce.management.jobcommand import JobCommand
from orders.jobs import BALANCE_PAYMENT


class Command(JobCommand):
    spec = BALANCE_PAYMENT
