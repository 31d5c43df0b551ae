"""The agents of the world: people (all roles), marketing channels, the product, customer success."""
