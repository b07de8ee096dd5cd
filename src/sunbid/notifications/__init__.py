"""Notifications 消息通知: one outbox, in-app messages and SMS / e-mail adapters (SPEC §11, T-4).

``domain`` holds the pure rules (channels, address checks, message texts, errors), ``models`` the tables,
``service`` the :class:`~sunbid.notifications.service.Notifier` (queue in the caller's unit of work, deliver
from the outbox worker), ``adapters`` the e-mail senders and SMS gateways behind their Protocols, and
``tasks`` the outbox handlers.
"""
