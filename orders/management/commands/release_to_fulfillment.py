from commerce.management.jobcommand import JobCommand
from orders.jobs import RELEASE_TO_FULFILLMENT


class Command(JobCommand):
    spec = RELEASE_TO_FULFILLMENT
