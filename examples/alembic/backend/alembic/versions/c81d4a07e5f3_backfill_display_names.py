"""backfill users.display_name from email

Revision ID: c81d4a07e5f3
Revises: 5e0a8b3f2d17
Create Date: 2024-05-02 14:20:37.904561

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "c81d4a07e5f3"
down_revision: Union[str, Sequence[str], None] = "5e0a8b3f2d17"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = "7b1f0c6d9e22"

users = sa.table("users", sa.column("id", sa.BigInteger), sa.column("email", sa.Text), sa.column("display_name", sa.Text))


def upgrade() -> None:
    op.execute(
        users.update()
        .where(users.c.display_name.is_(None))
        .values(display_name=sa.func.split_part(users.c.email, "@", 1))
    )


def downgrade() -> None:
    # The old values are gone: there is nothing to restore.
    pass
