"""Signed webhooks for partners (Standard Webhooks): endpoints, the fan-out of events into a
persisted queue, and the sender that delivers it."""
