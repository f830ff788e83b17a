"""Mail that comes in: the storefronts' support mailboxes read, each message turned into a case or kept aside.

Mail that goes out (the outbox and the case notifications) belongs to the cases: every case service
writes its e-mail in the same transaction as the change it tells about.
"""
