"""CAD wire formats (NENA EIDO and plain JSON), inbound validation, outbound adapters, outbox delivery."""

__all__: list[str] = []
