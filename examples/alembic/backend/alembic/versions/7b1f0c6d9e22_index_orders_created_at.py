"""index orders.created_at

Revision ID: 7b1f0c6d9e22
Revises: 9f8e7d6c5b4a
Create Date: 2024-04-09 15:31:55.760418

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "7b1f0c6d9e22"
down_revision: Union[str, Sequence[str], None] = "9f8e7d6c5b4a"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    with op.get_context().autocommit_block():
        op.create_index(
            "orders_created_at_idx",
            "orders",
            ["created_at"],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("orders_created_at_idx", table_name="orders", postgresql_concurrently=True)
