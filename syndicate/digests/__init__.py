"""Subscribers, lists, editions and the email fan-out with its delivery ledger."""
