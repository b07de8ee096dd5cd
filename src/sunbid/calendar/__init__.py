"""The centre's working-day calendar: official holidays plus the centre's overrides, and the rules table."""
