from commerce.management.jobcommand import JobCommand
from orders.jobs import ORDER_PAYMENT_SYNCHRONIZE


class Command(JobCommand):
    spec = ORDER_PAYMENT_SYNCHRONIZE
