from commerce.management.jobcommand import JobCommand
from orders.jobs import RELEASE_EXPIRED_ALLOCATIONS


class Command(JobCommand):
    spec = RELEASE_EXPIRED_ALLOCATIONS
