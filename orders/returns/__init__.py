"""Returns (RMA, DESIGN section 17): request, approve, receive, credit and close.

A subpackage of orders rather than an app of its own: a return is part of an order's life (its
number, items, payment and ledgers are the order's), and its models live in the orders app's
migrations. See docs/returns.md.
"""
