from commerce.management.jobcommand import JobCommand
from orders.returns.jobs import RETURN_CREDIT_AND_CLOSE


class Command(JobCommand):
    spec = RETURN_CREDIT_AND_CLOSE
