"""Upload events: transactional outbox, relay to RabbitMQ, and consumers.

Production: API writes the event into ``outbox_events`` in the same transaction as the
upload row; the relay publishes it to a RabbitMQ quorum queue (publisher confirms) and the
ETL consumes from there. Local: the outbox table itself is the queue.
"""
