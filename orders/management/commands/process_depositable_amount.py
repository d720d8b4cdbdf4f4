from commerce.management.jobcommand import JobCommand
from orders.jobs import PROCESS_DEPOSITABLE_AMOUNT


class Command(JobCommand):
    spec = PROCESS_DEPOSITABLE_AMOUNT
