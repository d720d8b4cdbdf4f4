"""Webhooks: signed JSON events sent to the endpoints a store registers, after the change commits.

Apps call :func:`commerce.webhooks.events.emit` inside the transaction that makes the change; this
package knows no app.
"""
