from commerce.management.jobcommand import JobCommand
from orders.jobs import ORDER_CLOSE


class Command(JobCommand):
    spec = ORDER_CLOSE
