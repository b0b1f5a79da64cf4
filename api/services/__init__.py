"""What the service does behind its routes: plan jobs, the re-plan, the checkout, the
day's keeping, tracking and its reports, webhooks (the outbox, the deliverer, the order
events customers are told, back-in-stock alerts) and the event feed. Services take the
database and the core, never a request; their errors are :class:`api.errors.Problem`\\ s
the routes let through."""
