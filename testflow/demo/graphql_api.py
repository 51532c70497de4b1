"""GraphQL for the demo service, with graphql-core (a real parser, validator and executor)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo, build_schema, graphql

from testflow.demo.store import OrderStore

SDL = """
type Order {
  id: ID!
  product: String!
  price: Float!
  quantity: Int!
  status: String!
  created_at: String!
}

type Query {
  order(id: ID!): Order
  orders(status: String): [Order!]!
}

type Mutation {
  createOrder(product: String!, price: Float!, quantity: Int = 1): Order!
  cancelOrder(id: ID!): Order
}
"""

SCHEMA = build_schema(SDL)


class Root:
    """Root value: graphql-core's default resolver calls these methods with (info, **args)."""

    def __init__(self, store: OrderStore) -> None:
        self.store = store

    async def order(self, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        return await self.store.get(id)

    async def orders(
        self, info: GraphQLResolveInfo, status: str | None = None
    ) -> list[dict[str, Any]]:
        return await self.store.list(status)

    async def createOrder(  # camelCase: the GraphQL field names
        self, info: GraphQLResolveInfo, product: str, price: float, quantity: int = 1
    ) -> dict[str, Any]:
        if price <= 0 or quantity < 1 or not product:
            raise ValueError("product must be non-empty, price > 0 and quantity >= 1")
        return await self.store.create(product, price, quantity)

    async def cancelOrder(self, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        return await self.store.update(id, {"status": "CANCELLED"})


async def execute(
    store: OrderStore,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> dict[str, Any]:
    """Run one operation; errors are in the result (HTTP 200), as GraphQL servers do."""
    result = await graphql(
        SCHEMA,
        source=query,
        root_value=Root(store),
        variable_values=variables,
        operation_name=operation_name,
    )
    return dict(result.formatted)
