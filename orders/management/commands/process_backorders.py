from commerce.management.jobcommand import JobCommand
from orders.jobs import PROCESS_BACKORDERS


class Command(JobCommand):
    spec = PROCESS_BACKORDERS
