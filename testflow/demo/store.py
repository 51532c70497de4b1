"""The demo service's SQLite store (aiosqlite: one connection, opened by the app's lifespan).

Payment completes lazily: ``pay`` records when the order is due to become PAID and every read
settles due payments first, so a delay needs no background task and survives restarts.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL,
    price REAL NOT NULL,
    quantity INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    paid_due REAL
)
"""
COLUMNS = ("id", "product", "price", "quantity", "status", "created_at", "updated_at")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OrderStore:
    """CRUD on the ``orders`` table; rows come back as plain dicts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self._db = await aiosqlite.connect(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the order store is not open")
        return self._db

    async def create(self, product: str, price: float, quantity: int) -> dict[str, Any]:
        now = _now()
        order_id = uuid.uuid4().hex[:12]
        await self.db.execute(
            "INSERT INTO orders (id, product, price, quantity, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'NEW', ?, ?)",
            (order_id, product, price, quantity, now, now),
        )
        await self.db.commit()
        order = await self.get(order_id)
        assert order is not None
        return order

    async def _settle_payments(self) -> None:
        await self.db.execute(
            "UPDATE orders SET status = 'PAID', updated_at = ?, paid_due = NULL"
            " WHERE status = 'PAYMENT_PENDING' AND paid_due <= ?",
            (_now(), time.time()),
        )
        await self.db.commit()

    async def get(self, order_id: str) -> dict[str, Any] | None:
        await self._settle_payments()
        async with self.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM orders WHERE id = ?", (order_id,)
        ) as cur:
            row = await cur.fetchone()
        return _row(row) if row is not None else None

    async def list(self, status: str | None = None) -> list[dict[str, Any]]:
        await self._settle_payments()
        sql = f"SELECT {', '.join(COLUMNS)} FROM orders"
        args: tuple[Any, ...] = ()
        if status:
            sql, args = sql + " WHERE status = ?", (status,)
        async with self.db.execute(sql + " ORDER BY created_at, id", args) as cur:
            return [_row(r) for r in await cur.fetchall()]

    async def update(self, order_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)  # names come from a model
            await self.db.execute(
                f"UPDATE orders SET {assignments}, updated_at = ? WHERE id = ?",
                (*changes.values(), _now(), order_id),
            )
            await self.db.commit()
        return await self.get(order_id)

    async def pay(self, order_id: str, after_ms: int) -> dict[str, Any] | None:
        """Start a payment that completes ``after_ms`` from now (at once when 0)."""
        due = time.time() + after_ms / 1000
        await self.db.execute(
            "UPDATE orders SET status = 'PAYMENT_PENDING', paid_due = ?, updated_at = ?"
            " WHERE id = ?",
            (due, _now(), order_id),
        )
        await self.db.commit()
        return await self.get(order_id)

    async def delete(self, order_id: str) -> bool:
        cur = await self.db.execute("DELETE FROM orders WHERE id = ?", (order_id,))
        await self.db.commit()
        return cur.rowcount > 0

    async def reset(self) -> int:
        cur = await self.db.execute("DELETE FROM orders")
        await self.db.commit()
        return cur.rowcount


def _row(row: aiosqlite.Row) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    price = out["price"]
    out["price"] = int(price) if float(price).is_integer() else price
    return out
